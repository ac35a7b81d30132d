"""Built-in models; importing this package registers them all."""

from zoo.models import mean, ridge, tcn  # noqa: F401
