"""Builders for the grid and visit tests: a township with its village and grid, their staff, households, photos."""

import random
import struct
import zlib
from dataclasses import dataclass

import pytest

from hotline.extensions import db
from hotline.grid import visits
from models.contact import Contact
from models.department import Department
from models.user import User


def png_bytes(width: int = 2, height: int = 2, rows: bytes | None = None) -> bytes:
    """A real PNG (red pixels, or the given raw ``rows``), made without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    if rows is None:
        rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Field:
    town: Department
    village: Department
    other_village: Department
    grid: Department
    bureau: Department
    town_staff: User
    village_staff: User
    grid_worker: User
    bureau_staff: User


@pytest.fixture(name="field")
def field_fixture(make_department, make_user) -> Field:
    town = make_department("town_chengguan", "城关镇", "township", "township")
    village = make_department("village_dongguan", "东关社区", "community", "village", parent=town)
    other = make_department("village_xijie", "西街村", "village", "village", parent=town)
    grid = make_department("grid_dongguan_1", "东关社区第一网格", "grid", "grid", parent=village)
    bureau = make_department("civil_affairs", "县民政局")
    return Field(
        town=town,
        village=village,
        other_village=other,
        grid=grid,
        bureau=bureau,
        town_staff=make_user("department", username="town1", display_name="孙经办", department=town),
        village_staff=make_user("department", username="village1", display_name="周协理员", department=village),
        grid_worker=make_user("department", username="grid1", display_name="吴网格员", department=grid),
        bureau_staff=make_user("department", username="civil1", department=bureau),
    )


def household(village: Department, now, *, name="王秀英", commit=True, **flags) -> Contact:
    """A household of ``village`` with ``flags``, and its visit plan when a rule matches it."""
    contact = Contact(
        name=name,
        village_id=village.id,
        township_id=village.parent_id,
        address="东关社区三组12号",
        created_at=now,
        **flags,
    )
    db.session.add(contact)
    db.session.flush()
    visits.plan_household(contact, now=now)
    if commit:
        db.session.commit()
    return contact


def noisy_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: nearly incompressible, as large as a camera's photo."""
    noise = random.Random(7).randbytes
    return png_bytes(width, height, b"".join(b"\x00" + noise(width * 3) for _ in range(height)))
