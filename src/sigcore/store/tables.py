"""Core `Table` handles of the models, for the repository's hand-built (and cached) statements."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from sigcore.store.models import (
    ApnProfileRow,
    AuthDataRow,
    RoamingRuleRow,
    ServingStateRow,
    SubscriberApnRow,
    SubscriberRow,
)

apn_profiles = cast(Table, ApnProfileRow.__table__)
subscribers = cast(Table, SubscriberRow.__table__)
subscriber_apns = cast(Table, SubscriberApnRow.__table__)
auth_data = cast(Table, AuthDataRow.__table__)
serving_state = cast(Table, ServingStateRow.__table__)
roaming_rules = cast(Table, RoamingRuleRow.__table__)
