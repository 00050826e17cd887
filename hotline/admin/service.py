"""Admin actions on users and departments; each one is written to the audit log."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from hotline import audit
from hotline.auth.service import new_session_token, set_password
from hotline.errors import DomainError
from hotline.extensions import db
from models.department import KINDS, LEVELS, Department
from models.user import ROLES, User


def _check_user_fields(role: str, department: Department | None) -> None:
    if role not in ROLES:
        raise DomainError(_l("Choose a role."))
    if role == "department" and department is None:
        raise DomainError(_l("Department staff must belong to a department."))


def create_user(
    *,
    actor: User | None,
    now: datetime,
    username: str,
    display_name: str,
    role: str,
    password: str,
    department: Department | None = None,
) -> User:
    """Create a login. Department staff need their unit; other roles have none."""
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise DomainError(_l("Choose a username of at most 64 characters."))
    if db.session.scalar(select(func.count(User.id)).where(func.lower(User.username) == username.lower())):
        raise DomainError(_l("The username %(name)s is already taken.", name=username))
    _check_user_fields(role, department)
    user = User(
        username=username,
        display_name=(display_name or "").strip() or username,
        role=role,
        department=department if role == "department" else None,
        active=True,
        failed_logins=0,
        created_at=now,
        password_hash="",
    )
    set_password(user, password, actor_id=actor.id if actor else None, now=now)
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user_created",
        actor_id=actor.id if actor else None,
        now=now,
        target=username,
        role=role,
        department=department.code if department and role == "department" else None,
    )
    return user


def update_user(
    user: User,
    *,
    actor: User,
    now: datetime,
    display_name: str,
    role: str,
    department: Department | None,
    active: bool,
    new_password: str | None = None,
) -> None:
    """Change a user's name, role, unit or active flag; optionally reset the password.

    Deactivation and a change of role end the user's sessions on every browser.
    """
    _check_user_fields(role, department)
    if user.id == actor.id and (not active or role != user.role):
        raise DomainError(_l("You cannot deactivate yourself or change your own role."))
    changes = {}
    new_department_id = department.id if department and role == "department" else None
    for field, value in (
        ("display_name", (display_name or "").strip() or user.username),
        ("role", role),
        ("department_id", new_department_id),
        ("active", active),
    ):
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    if new_password:
        set_password(user, new_password, actor_id=actor.id, now=now)
        changes["password_reset"] = True
    if "active" in changes or "role" in changes:
        user.session_token = new_session_token()
    if changes:
        audit.record("user_updated", actor_id=actor.id, now=now, target=user.username, changes=changes)


def save_department(
    department: Department | None,
    *,
    actor: User | None,
    now: datetime,
    code: str,
    name: str,
    kind: str,
    level: str,
    parent: Department | None,
    duty_phone: str | None,
    active: bool = True,
) -> Department:
    """Create (``department`` None) or update a unit. Codes are stable: they cannot be changed later."""
    code = (code or "").strip()
    name = (name or "").strip()
    if kind not in KINDS:
        raise DomainError(_l("Choose a kind of unit."))
    if level not in LEVELS:
        raise DomainError(_l("Choose a level."))
    if not name:
        raise DomainError(_l("Give the unit a name."))
    if department is None:
        if not code or not code.replace("_", "").isalnum() or not code.isascii():
            raise DomainError(_l("A code uses only letters, digits and underscores."))
        if db.session.scalar(select(func.count(Department.id)).where(Department.code == code)):
            raise DomainError(_l("The code %(code)s is already used.", code=code))
        department = Department(code=code)
        db.session.add(department)
        kind_of_change = "department_created"
    else:
        kind_of_change = "department_updated"
    ancestor = parent
    while ancestor is not None:
        if ancestor is department:
            raise DomainError(_l("A unit cannot be placed under itself."))
        ancestor = ancestor.parent
    department.name = name
    department.kind = kind
    department.level = level
    department.parent = parent
    department.duty_phone = (duty_phone or "").strip() or None
    department.active = active
    db.session.flush()
    audit.record(
        kind_of_change,
        actor_id=actor.id if actor else None,
        now=now,
        target=department.code,
        name=name,
        unit_kind=kind,
        level=level,
        parent=parent.code if parent else None,
        active=active,
    )
    return department
