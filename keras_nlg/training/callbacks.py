"""Callbacks that add language-model figures to the logs and to TensorBoard."""

import math
import os
import time

import keras
import tensorflow as tf

from keras_nlg.generation import sample_continuation


class LanguageModelStats(keras.callbacks.Callback):
    """Adds `tokens_per_second` and `bits_per_token` (and `val_`) to epoch logs.

    Put it before `keras.callbacks.TensorBoard` in the callback list: the
    logs dict is shared, so TensorBoard writes these scalars too. With the
    byte tokenizer, bits per token are bits per byte.

    Args:
        tokens_per_step: `global_batch_size * sequence_length`.
    """

    def __init__(self, tokens_per_step):
        super().__init__()
        self.tokens_per_step = tokens_per_step
        self.steps_run = 0  # over the whole fit: a time limit may end it early
        self.step_seconds = 0.0  # in train steps, over the whole fit

    def on_epoch_begin(self, epoch, logs=None):
        self._train_seconds = 0.0
        self._steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # Only the train steps: validation and callbacks are not throughput.
        seconds = time.perf_counter() - self._batch_start
        self._train_seconds += seconds
        self.step_seconds += seconds
        self._steps += 1
        self.steps_run += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self._train_seconds:
            logs["tokens_per_second"] = (
                self._steps * self.tokens_per_step / self._train_seconds
            )
        for key in ("loss", "val_loss"):
            if key in logs:
                prefix = key[: -len("loss")]
                logs[f"{prefix}bits_per_token"] = float(logs[key]) / math.log(2)


class TrainingTimeLimit(keras.callbacks.Callback):
    """Stops `fit` once the time spent in training steps reaches `seconds`.

    Keras has no time-based stop; this counts only the train steps (not
    validation or other callbacks), so a budget means the same compute on
    every run. Training ends after the step that crosses the budget and
    the model so far is kept.
    """

    def __init__(self, seconds):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"`seconds` must be > 0. Received: seconds={seconds!r}")
        self.seconds = seconds
        self.spent = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.spent += time.perf_counter() - self._start
        if self.spent >= self.seconds:
            self.model.stop_training = True


class TextSampleLogger(keras.callbacks.Callback):
    """Writes a generated sample as a TensorBoard text summary each epoch.

    Args:
        tokenizer: the model's tokenizer.
        log_dir: folder of the summary writer (e.g. `<out>/logs/samples`).
        prompt: text to continue.
        max_new_tokens: length of the sample.
        seed: sampling seed (the same each epoch, so samples compare).
    """

    def __init__(self, tokenizer, log_dir, prompt="\n", max_new_tokens=200, seed=0):
        super().__init__()
        self.tokenizer = tokenizer
        self.log_dir = log_dir
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self._writer = None

    def on_train_begin(self, logs=None):
        os.makedirs(self.log_dir, exist_ok=True)
        self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            return  # a diverged model has NaN probabilities: nothing to sample
        continuation = sample_continuation(
            self.model, self.tokenizer, self.prompt, self.max_new_tokens, self.seed
        )
        # Markdown: a code block keeps line breaks and spacing of the sample.
        text = f"```\n{self.prompt}{continuation}\n```"
        with self._writer.as_default():
            # 0-based like the epoch scalars Keras' TensorBoard callback writes.
            tf.summary.text("generated_sample", text, step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
