"""Errors raised by service functions; views turn them into messages for the user."""


class DomainError(Exception):
    """An action refused by a domain rule; ``message`` is shown to the user as is."""

    status_code = 400

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class NotAllowed(DomainError):
    """The actor may not do this (role, ownership)."""

    status_code = 403


class StaleError(DomainError):
    """Someone changed the record after the form was built; nothing was saved."""

    status_code = 409
