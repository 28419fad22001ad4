"""`rl_finetune()`: RLOO on a model directory's model; writes a new model directory."""

from __future__ import annotations

import keras

from keras_nlg.model_directory import load
from keras_nlg.training.fit import TrainResult, check_out_dir
from keras_nlg.training.lora import enable_lora
from keras_nlg.training.rl.config import RLConfig
from keras_nlg.training.rl.rewards import parse_rewards, reward_name
from keras_nlg.training.rl.rloo import RLOOTrainer
from keras_nlg.training.rl.run import (
    compile_trainer,
    fit_trainer,
    load_start,
    save_tuned,
)


def _check_prompts(prompts, references, sources):
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError(
            f"`prompts` must be a list of strings. Received: {prompts!r:.80}"
        )
    if not prompts:
        raise ValueError("`prompts` is empty: RL fine-tuning needs prompts.")
    references = references if references is not None else [[] for _ in prompts]
    sources = sources if sources is not None else list(prompts)
    for i, refs in enumerate(references):
        if isinstance(refs, str) or not all(isinstance(r, str) for r in refs):
            raise TypeError(
                f"`references[{i}]` must be a list of strings (the references of "
                f"prompt {i}). Received: {refs!r:.80}"
            )
    for name, values in (("references", references), ("reward_prompts", sources)):
        if len(values) != len(prompts):
            raise ValueError(
                f"`{name}` must hold one entry per prompt ({len(prompts)}). "
                f"Received: {len(values)}"
            )
    return list(prompts), references, sources


def rl_finetune(
    model_dir: str,
    prompts,
    out_dir: str,
    reward,
    config: RLConfig | None = None,
    *,
    references=None,
    reward_prompts=None,
    callbacks: list | None = None,
    verbose="auto",
    overwrite: bool = False,
    **overrides,
) -> TrainResult:
    """RL fine-tuning (RLOO + KL to the starting model) of a model directory.

    Args:
        model_dir: a keras_nlg model directory (Transformer or LSTM).
        prompts: list of prompt strings the model continues.
        out_dir: the model directory to write (not `model_dir`).
        reward: a callable `reward(prompts, completions, references) -> [n]`
            (see `keras_nlg.training.rl.rewards`) or a spec string such as
            `"slot_error:1.0,bleu:0.5"` (`parse_rewards`).
        config: an `RLConfig` (default `RLConfig()`).
        references: per prompt, a list of reference texts (for BLEU/ROUGE).
        reward_prompts: what rewards see as each prompt (default `prompts`;
            E2E passes the MRs while the model is prompted with their text).
        callbacks: extra Keras callbacks.
        verbose: Keras' `fit` verbosity.
        overwrite: replace a finished model in `out_dir` (else a
            `ValueError`).
        **overrides: `RLConfig` fields replacing `config`'s.

    Returns:
        A `TrainResult`; `history` holds per-epoch `reward_mean`,
        `reward_std`, `kl`, `entropy`, advantage stats, `loss`.

    Raises:
        ValueError: for an invalid setting (naming it), no prompts, prompts
            that don't fit the context, `out_dir` equal to `model_dir` or holding
            a finished model (without `overwrite`), or a
            reward that breaks its contract (naming the reward).
        TypeError: for prompts that are not strings or a reward that is
            neither callable nor a spec.
    """
    config = (config or RLConfig()).replace(**overrides)
    prompts, references, sources = _check_prompts(prompts, references, reward_prompts)
    if isinstance(reward, str):
        reward = parse_rewards(reward)
    elif not callable(reward):
        raise TypeError(
            "`reward` must be a callable or a spec string such as 'bleu:1.0'. "
            f"Received: {reward!r}"
        )
    if getattr(reward, "needs_references", False) and any(
        not refs for refs in references
    ):
        raise ValueError(
            f"The reward {reward_name(reward)!r} needs reference texts for every "
            "prompt (`references`, or --task e2e)."
        )
    check_out_dir(out_dir, overwrite, model_dir)
    keras.utils.set_random_seed(config.seed)
    start = load_start(model_dir)
    policy, tokenizer = start.policy, start.tokenizer
    reference, _, _ = load(model_dir)
    if (start.config.get("task") or {}).get("delexicalize"):
        raise ValueError(
            f"{model_dir} was trained on delexicalised E2E data; RL fine-tuning "
            "samples raw text and needs a lexicalised model."
        )
    if config.lora_rank is not None:
        enable_lora(policy, config.lora_rank, config.lora_alpha)
    trainer = RLOOTrainer(
        policy, reference, tokenizer, prompts, sources, references, reward, config
    )
    compile_trainer(trainer, policy, config)
    run = fit_trainer(trainer, out_dir, config, callbacks, verbose, log_samples=True)
    return save_tuned(
        start, out_dir, config, {"rl": {"reward": reward_name(reward)}}, run
    )
