"""Core services: the only writers of sites, users, roles, tokens and signatures."""

from .bootstrap import bootstrap_installation
from .signatures import PasswordProof, apply_signature, check_password_for_signing, sign_record
from .sites import create_site, deactivate_site, reactivate_site, update_site
from .tokens import create_api_token, revoke_api_token
from .users import (
    bootstrap_admin,
    change_own_password,
    create_user,
    deactivate_user,
    grant_role,
    revoke_role,
    set_password,
    unlock_user,
    update_user,
)

__all__ = [
    "PasswordProof",
    "apply_signature",
    "bootstrap_admin",
    "bootstrap_installation",
    "change_own_password",
    "check_password_for_signing",
    "create_api_token",
    "create_site",
    "create_user",
    "deactivate_site",
    "deactivate_user",
    "grant_role",
    "reactivate_site",
    "revoke_api_token",
    "revoke_role",
    "set_password",
    "sign_record",
    "unlock_user",
    "update_site",
    "update_user",
]
