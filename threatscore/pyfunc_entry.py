"""MLflow model-from-code entry point: MLflow executes this file when it loads a threatscore model.

It is never imported by threatscore itself; ``set_model`` here is MLflow's required registration, the only
side effect, and it runs only inside ``mlflow.pyfunc.load_model``.
"""

from mlflow.models import set_model

from threatscore.pyfunc import ThreatscoreModel

set_model(ThreatscoreModel())
