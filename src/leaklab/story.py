"""The demo's and the talk's story: the stack's two apps and the verdicts they must reach.

`leaklab.verdict` judges any apps by their label matchers; only `demo`, `talk`, the
default of `check --app` and the Leaks view know that the stack runs two, leaky and fixed,
and that leaky must leak where fixed does not.
"""

from __future__ import annotations

from leaklab.settings import VARIANTS
from leaklab.verdict.check import CheckResult
from leaklab.verdict.stats import Verdict

STACK_APPS = {variant: f'app="{variant}"' for variant in VARIANTS}  # the stack's two apps
STORY = (("leaky", Verdict.LEAK), ("fixed", Verdict.NO_LEAK))
STORY_RESOURCES = ("db_connections", "redis_connections")
EXPECTED = "leaky LEAK, fixed NO LEAK on PostgreSQL and Redis connections"


def tells_the_story(result: CheckResult) -> bool:
    """The demo's and the talk's promise: leaky LEAK, fixed NO LEAK on both connection kinds."""
    verdicts = {app.name: app.decisions for app in result.apps}
    return all(
        app in verdicts and resource in verdicts[app] and verdicts[app][resource].verdict is want
        for app, want in STORY
        for resource in STORY_RESOURCES
    )
