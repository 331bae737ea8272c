"""The stacking layer (threatscore.stacking) on its own and inside the one predict path (tiny baseline)."""

import numpy as np
import pytest
from pydantic import ValidationError

from threatscore.risk import region_risk
from threatscore.schemas import Article
from threatscore.scorer import Scorer, ScorerConfig
from threatscore.stacking import STACK_INPUTS, LinearLayer, Stacking, stack_inputs
from threatscore.taxonomy import SEVERITY_LEVELS, SIGNALS


def _layer(weights: dict[str, float], intercept: float = 0.0) -> LinearLayer:
    return LinearLayer(coef=tuple(weights.get(name, 0.0) for name in STACK_INPUTS), intercept=intercept)


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_layers_are_validated():
    with pytest.raises(ValidationError, match="one per STACK_INPUTS"):
        LinearLayer(coef=(1.0, 2.0), intercept=0.0)
    with pytest.raises(ValidationError, match="cannot stack"):
        Stacking(layers={"mass_casualty": _layer({})})  # served as the high-severity probability
    with pytest.raises(ValidationError, match="cannot stack"):
        Stacking(layers={"relevance": _layer({})})


def test_inputs_are_logits_and_expected_severity():
    signals = np.full((1, len(SIGNALS)), 0.5)
    signals[0, SIGNALS.index("recruitment")] = 0.8
    x = stack_inputs(signals, np.array([0.9]), np.array([[0.0, 0.0, 0.5, 0.5]]), np.array([0.2]))
    assert x.shape == (1, len(STACK_INPUTS))
    named = dict(zip(STACK_INPUTS, x[0], strict=True))
    assert named["signal.recruitment"] == pytest.approx(_logit(0.8))
    assert named["signal.militant_attack"] == pytest.approx(0.0)
    assert named["relevance"] == pytest.approx(_logit(0.9))
    assert named["severity.expected"] == pytest.approx(2.5)  # half medium (2), half high (3)
    assert named["resurgence"] == pytest.approx(_logit(0.2))


def test_apply_replaces_only_the_stacked_outputs_and_reads_the_scores_before_stacking():
    # resurgence = sigmoid(logit(recruitment) + 1); recruitment = sigmoid(2 · logit(resurgence)).
    stacking = Stacking(
        layers={
            "resurgence": _layer({"signal.recruitment": 1.0}, intercept=1.0),
            "recruitment": _layer({"resurgence": 2.0}),
        }
    )
    signals = np.full((2, len(SIGNALS)), 0.3)
    signals[:, SIGNALS.index("recruitment")] = [0.2, 0.7]
    resurgence = np.array([0.4, 0.6])
    severity = np.tile([0.7, 0.1, 0.1, 0.1], (2, 1))
    stacked, res = stacking.apply(signals, np.array([0.5, 0.5]), severity, resurgence)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    np.testing.assert_allclose(res, sigmoid(_logit_arr([0.2, 0.7]) + 1.0))
    np.testing.assert_allclose(stacked[:, SIGNALS.index("recruitment")], sigmoid(2 * _logit_arr([0.4, 0.6])))
    untouched = [j for j, n in enumerate(SIGNALS) if n != "recruitment"]
    np.testing.assert_array_equal(stacked[:, untouched], signals[:, untouched])
    assert signals[0, SIGNALS.index("recruitment")] == 0.2  # the caller's array is not changed
    one_signals, one_res = stacking.apply_one(
        dict(zip(SIGNALS, signals[1], strict=True)), 0.5, dict(zip(SEVERITY_LEVELS, severity[1], strict=True)), 0.6
    )
    assert one_res == pytest.approx(res[1])
    assert one_signals["recruitment"] == pytest.approx(stacked[1, SIGNALS.index("recruitment")])


def _logit_arr(p: list[float]) -> np.ndarray:
    a = np.asarray(p)
    return np.log(a / (1 - a))


def test_the_scorer_serves_the_stacked_scores_and_the_config_round_trips(tiny_fit, seed_text):
    articles = [
        Article(id="seed", text=seed_text),
        Article(id="calm", text="The striker scored twice as the club won the cup final on Saturday."),
    ]
    plain = Scorer(tiny_fit.heads, tiny_fit.scorer_config)
    stacking = Stacking(
        layers={
            "resurgence": _layer({"signal.militant_attack": 1.5, "severity.expected": 0.5}, intercept=-1.0),
            "recruitment": _layer({"signal.recruitment": 0.5, "relevance": 0.3}, intercept=-0.5),
        }
    )
    config = ScorerConfig.model_validate_json(
        tiny_fit.scorer_config.model_copy(update={"stacking": stacking}).model_dump_json()
    )
    assert config.stacking == stacking
    stacked = Scorer(tiny_fit.heads, config)
    before = plain.served_scores(articles)
    after = stacked.served_scores(articles)
    signals, resurgence = stacking.apply(before.signals, before.relevance, before.severity, before.resurgence)
    np.testing.assert_allclose(after.signals, signals)
    np.testing.assert_allclose(after.resurgence, resurgence)
    np.testing.assert_array_equal(after.relevance, before.relevance)
    assessments = stacked.score(articles)
    for k, a in enumerate(assessments):
        assert a.resurgence.score == pytest.approx(resurgence[k], abs=1e-4)
        assert a.signals["recruitment"].probability == pytest.approx(signals[k, SIGNALS.index("recruitment")], abs=1e-4)
        # an output that is not stacked is served as before; mass_casualty stays the high-severity probability
        assert a.signals["militant_attack"].probability == pytest.approx(
            before.signals[k, SIGNALS.index("militant_attack")], abs=1e-4
        )
        assert a.signals["mass_casualty"].probability == a.severity.probabilities["high"]
    # the regions' risk reads the stacked resurgence
    seed = assessments[0]
    assert seed.regions
    for region in seed.regions:
        expected = region_risk(after.relevance[0], seed.severity.probabilities, resurgence[0], region.primary)
        assert region.risk.score == pytest.approx(expected, abs=2e-3)


def test_platt_scaling_is_kept_only_where_it_gains_out_of_fold():
    from training.config import ResurgenceCalibrationConfig
    from training.stacking import fit_platt

    rng = np.random.default_rng(0)
    true_logit = rng.normal(-2.2, 1.2, 2000)  # ~14 % positives, like resurgence on the gold items
    y = (rng.random(2000) < 1 / (1 + np.exp(-true_logit))).astype(int)
    config = ResurgenceCalibrationConfig()
    # Scores twice as confident and shifted up, as the heads' resurgence was: the scaling is kept and undoes it.
    platt, metrics = fit_platt(y, 2.0 * true_logit + 1.5, config, seed=0)
    assert platt is not None
    assert metrics["log_loss_out_of_fold"] < metrics["log_loss_as_is"] * (1 - config.min_gain)
    slope, intercept = platt
    assert 0.3 < slope < 0.7 and -2.0 < intercept < -0.2
    # Scores that are calibrated already: nothing to gain, nothing kept.
    assert fit_platt(y, true_logit, config, seed=0)[0] is None
    # Too few positives for the folds: nothing fitted.
    assert fit_platt(np.array([1, 0, 0, 0, 0, 0]), np.zeros(6), config, seed=0)[0] is None


def test_a_layer_that_reads_its_own_score_is_platt_scaling():
    from threatscore.stacking import own_score_layer

    layer = own_score_layer("resurgence", 0.5, -1.0)
    assert sum(c != 0 for c in layer.coef) == 1 and layer.coef[STACK_INPUTS.index("resurgence")] == 0.5
    signals = np.full((3, len(SIGNALS)), 0.3)
    severity = np.tile(np.full(len(SEVERITY_LEVELS), 1 / len(SEVERITY_LEVELS)), (3, 1))
    resurgence = np.array([0.1, 0.5, 0.9])
    same_signals, calibrated = Stacking(layers={"resurgence": layer}).apply(
        signals, np.full(3, 0.8), severity, resurgence
    )
    z = np.log(resurgence / (1 - resurgence))
    np.testing.assert_allclose(calibrated, 1 / (1 + np.exp(-(0.5 * z - 1.0))), rtol=1e-6)
    np.testing.assert_array_equal(same_signals, signals)
    with pytest.raises(ValueError):
        own_score_layer("no_such_signal", 1.0, 0.0)
