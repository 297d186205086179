"""What MLflow runs to build a sweepml tabular pyfunc model when it loads one ("models from
code"): ``export(path, format="mlflow")`` copies this file into the model folder."""

from mlflow.models import set_model

from sweepml.integrations.mlflow_model import TabularPyfunc

set_model(TabularPyfunc())
