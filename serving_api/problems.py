"""What can go wrong in a use case, said without HTTP: services raise these, and the app's edge
(``serving_api.errors``) turns each into its status code and JSON error."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``message`` is written for the API's client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoDataError(ServiceError, LookupError):
    """The ticker has a model but no stored data (409)."""


class UntrainedTickerError(ServiceError, LookupError):
    """The ticker has no model and this use case does not train one (404)."""


class IndexTickerError(ServiceError, ValueError):
    """The index: the parent model trains on it, it has no model of its own (409: the request
    is well formed, the platform's state does not allow it)."""


class DependencyUnavailableError(ServiceError):
    """A server the platform needs does not answer (503)."""

    def __init__(self, name: str, detail: object) -> None:
        super().__init__(f"{name} is unavailable: {detail}")
        self.name = name


class LaunchRejectedError(ServiceError):
    """Dagster answered but refused a run (502): a bug or a deployment out of step."""


class BusyError(ServiceError):
    """Another request holds the lock for the same work; retrying shortly will join it (503)."""

    retry_after_s = 1
