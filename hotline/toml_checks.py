"""Shape checks shared by the policy loaders: a mistake in a TOML file names the file, the table and the key.

Each loader binds them to its own error class (``SlaPolicyError``, ``TriagePolicyError``...).
"""


def table(data: dict, key: str, where: str, *, error: type[Exception]) -> dict:
    """``data[key]``, which must be a TOML table."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise error(f"{where}: [{key}] is missing or is not a table")
    return value


def only_keys(data: dict, allowed: set[str], where: str, *, error: type[Exception]) -> None:
    """Refuse any key of ``data`` outside ``allowed`` (a misspelt key would otherwise be ignored)."""
    unknown = set(data) - allowed
    if unknown:
        raise error(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(allowed)}")
