"""lifeevents: a rules-as-code eligibility recommender for Taiwan's life-event services.

Data flows YAML → validated model → compiled rules → engine → results:
``load_catalogue`` reads and checks ``catalog.yaml`` and ``rules/``; ``Engine`` compiles
them into durable-rules rulesets and answers profiles.
"""

from engine.facts import fact_types
from engine.loader import CatalogueError, load_catalogue
from engine.profile import Profile, ProfileError, load_profile, validate_profile
from engine.recommend import Engine
from engine.validate import enum_values

__all__ = [
    "CatalogueError",
    "Engine",
    "Profile",
    "ProfileError",
    "enum_values",
    "fact_types",
    "load_catalogue",
    "load_profile",
    "validate_profile",
]
