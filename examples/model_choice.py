"""Pick a scikit-learn model and its hyperparameters for the breast-cancer table.

    sweepml tune examples/model_choice.py:objective --space examples/model_choice.yaml \
        --trials 40 --workers 2 --trial-timeout 10 --storage demo.db --maximize --seed 0

An SVM with a large C on unscaled features can take minutes to fit: the per-trial timeout turns
those configs into TIMEOUT records and the search moves on.
"""

import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

X, y = load_breast_cancer(return_X_y=True)
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def build(config):
    model = config["model"]
    if model == "logistic":
        estimator = LogisticRegression(C=config["logistic_C"], max_iter=2000)
    elif model == "svm":
        estimator = SVC(C=config["svm_C"], gamma=config["svm_gamma"])
    elif model == "knn":
        estimator = KNeighborsClassifier(n_neighbors=config["knn_k"], weights=config["knn_weights"])
    else:
        estimator = RandomForestClassifier(
            n_estimators=config["rf_trees"],
            max_features=config["rf_max_features"],
            min_samples_leaf=config["rf_min_samples_leaf"],
            random_state=0,
            n_jobs=1,
        )
    return make_pipeline(StandardScaler(), estimator) if config["scale"] else estimator


def objective(config):
    """Mean 3-fold cross-validated accuracy (to maximize); the fold spread as a metric."""
    scores = cross_val_score(build(config), X, y, cv=3)
    return {"value": float(scores.mean()), "std": float(scores.std())}
