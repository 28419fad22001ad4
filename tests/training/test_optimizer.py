import pytest

from keras_nlg.models import build_model
from keras_nlg.training import language_model_optimizer, warmup_cosine_schedule


def test_warmup_then_cosine_schedule():
    schedule = warmup_cosine_schedule(1e-3, total_steps=110, warmup_steps=10)
    assert float(schedule(0)) == pytest.approx(0.0)
    assert float(schedule(5)) == pytest.approx(5e-4)
    assert float(schedule(10)) == pytest.approx(1e-3)
    assert float(schedule(60)) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5), rel=1e-4)
    assert float(schedule(110)) == pytest.approx(1e-4, rel=1e-4)


def test_optimizer_clips_by_global_norm_and_skips_decay_on_norms_and_biases():
    optimizer = language_model_optimizer(1e-3, total_steps=100, warmup_steps=10)
    assert optimizer.global_clipnorm == 1.0 and optimizer.weight_decay == 0.1
    model = build_model("transformer", "tiny", vocabulary_size=258)
    optimizer.build(model.trainable_variables)
    decayed = {
        v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)
    }
    assert any(path.endswith("mlp_in/kernel") for path in decayed)
    assert not any(path.endswith(("bias", "gamma", "beta")) for path in decayed)


def test_schedule_without_warmup_and_bad_lengths():
    assert float(warmup_cosine_schedule(1e-3, total_steps=1, warmup_steps=0)(0)) == (
        pytest.approx(1e-3)
    )
    with pytest.raises(ValueError, match="total_steps=5"):
        warmup_cosine_schedule(1e-3, total_steps=5, warmup_steps=5)
