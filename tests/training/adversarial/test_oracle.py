"""The oracle benchmark's measures against float64 NumPy and by construction."""

import numpy as np

from keras_nlg.training.adversarial import SequenceFormat
from keras_nlg.training.adversarial import oracle as bench


def test_oracle_weights_are_standard_normal_and_seeded():
    model = bench.oracle_model(50, width=8, seed=3)
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    assert abs(weights.mean()) < 0.05 and abs(weights.std() - 1) < 0.05
    again = bench.oracle_model(50, width=8, seed=3)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_mean_nll_matches_float64_over_the_real_tokens():
    model = bench.oracle_model(30, width=8, seed=0)
    fmt = SequenceFormat(start_id=0, end_of_text_id=29, padding_id=0, length=5)
    ids = np.array([[3, 4, 29, 0, 0], [5, 6, 7, 8, 9]], "int32")
    for temperature in (1.0, 0.7):
        inputs = fmt.with_start(ids)
        logits = np.asarray(model(inputs[:, :-1]), "float64") / temperature
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        chosen = np.take_along_axis(log_probs, inputs[:, 1:, None], -1)[..., 0]
        mask = fmt.mask(ids)
        expected = -(chosen * mask).sum() / mask.sum()
        got = bench.mean_nll(model, ids, fmt, temperature=temperature)
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_self_bleu_is_one_for_copies_and_low_for_random_rows():
    copies = np.tile(np.arange(20), (10, 1))
    assert bench.self_bleu(copies, hypotheses=5) > 0.999
    random = np.random.default_rng(0).integers(0, 5000, (50, 20))
    assert bench.self_bleu(random, hypotheses=20) < 0.05


def test_points_below_a_folding_temperature_curve_beat_its_lowest_crossing():
    # NLL_test is lowest near T = 1: the curve passes x = 7.5 twice.
    curve = [
        {"temperature": 0.5, "nll_test": 8.0, "nll_oracle": 8.0},
        {"temperature": 1.0, "nll_test": 7.0, "nll_oracle": 9.0},
        {"temperature": 1.5, "nll_test": 8.0, "nll_oracle": 10.0},
    ]
    rows = [
        {"temperature": 1.0, "nll_test": 7.5, "nll_oracle": 8.4},  # below 8.5
        {"temperature": 0.9, "nll_test": 7.5, "nll_oracle": 8.6},  # above 8.5 only
        {"temperature": 0.8, "nll_test": 9.0, "nll_oracle": 1.0},  # outside
    ]
    below = bench.points_below_curve(curve, rows)
    assert [r["nll_oracle"] for r in below] == [8.4]
    assert below[0]["curve_nll_oracle"] == 8.5
