"""scikit-learn's own estimator checks, with a one-trial budget so they stay fast."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sweepml.tabular.estimators import AutoClassifier, AutoRegressor


@parametrize_with_checks(
    [
        AutoClassifier(max_trials=1, random_state=0, show_progress=False),
        AutoRegressor(max_trials=1, random_state=0, show_progress=False),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
