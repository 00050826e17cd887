"""Demo data for ``flask hotline demo``: the county, its people, and tickets at every stage.

- :mod:`hotline.demo.small` (the default, 50 tickets): every ticket walked
  through the service functions with explicit ``now`` values in the past;
- :mod:`hotline.demo.relief`: advance relief at each stage on a few of its P1 cases;
- :mod:`hotline.demo.bulk` (above :data:`BULK_THRESHOLD` tickets): two years of
  history written in bulk, with the rules taken from the SLA policy and the models.
"""

from hotline.demo.bulk import BULK_THRESHOLD, load_bulk_demo
from hotline.demo.small import DEMO_PASSWORD, USERS, demo_exists, load_demo

__all__ = ["BULK_THRESHOLD", "DEMO_PASSWORD", "USERS", "demo_exists", "load_bulk_demo", "load_demo"]
