"""Gait model zoo: registry, models, metrics and the command line.

    >>> import zoo
    >>> zoo.list_models("*unet*")
    >>> model = zoo.create_model("tcn", data_spec=datamodule.data_spec, preset="small")
"""

from zoo.errors import ZooError
from zoo.registry import create_model, get_model_class, list_models, register_model
from zoo.task import BaseTask

__all__ = ["BaseTask", "ZooError", "create_model", "get_model_class", "list_models", "register_model"]
