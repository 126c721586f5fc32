"""``run share`` verbs: viewer grants and share tokens on a run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

__all__ = ["register_share"]

Verb = Callable[[argparse.Namespace], int]


def register_share(
    run_sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    guard: Callable[[Verb], Verb],
) -> None:
    """Add ``run share grant|revoke`` and ``run share token create|list|revoke``."""
    share = run_sub.add_parser(
        "share",
        help="let others view a run: viewer grants and share tokens",
        description="Let a user, an organization or holders of a share token view a run.",
    )
    share_sub = share.add_subparsers(dest="share_command", required=True, metavar="VERB")
    grant = share_sub.add_parser(
        "grant",
        help="grant a user or an organization viewer access to a run",
        description="Grant one user (by e-mail or id) or an organization viewer access to a run.",
    )
    grant.add_argument("run_id", help="run id (see 'run list')")
    who = grant.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", default=None, help="e-mail address of the user to grant")
    who.add_argument("--user", default=None, metavar="USER_ID", help="id of the user to grant")
    who.add_argument(
        "--organization",
        default=None,
        metavar="ORG_ID",
        help="id of the organization whose users to grant",
    )
    grant.set_defaults(func=guard(share_grant))
    revoke = share_sub.add_parser(
        "revoke",
        help="revoke a viewer grant",
        description="Revoke a viewer grant (its id is printed by 'run share grant').",
    )
    revoke.add_argument("grant_id", help="grant id")
    revoke.set_defaults(func=guard(share_revoke))

    token = share_sub.add_parser(
        "token",
        help="share tokens: anyone holding one can view the run",
        description="Share tokens: anyone holding one can read the run with --share-token.",
    )
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="VERB")
    create = token_sub.add_parser(
        "create",
        help="create a share token for a run and print it (shown only once)",
        description="Create a share token with viewer access to a run; the token is printed "
        "on standard output and never shown again.",
    )
    create.add_argument("run_id", help="run id (see 'run list')")
    create.add_argument(
        "--expires-at",
        type=datetime.fromisoformat,
        default=None,
        metavar="ISO_TIME",
        help="when the token stops working, e.g. 2027-01-31T12:00:00+00:00 (default: never)",
    )
    create.set_defaults(func=guard(token_create))
    listing = token_sub.add_parser(
        "list",
        help="share tokens of a run (without their secrets)",
        description="Share tokens with access to a run, without their secrets.",
    )
    listing.add_argument("run_id", help="run id (see 'run list')")
    listing.set_defaults(func=guard(token_list))
    token_revoke = token_sub.add_parser(
        "revoke",
        help="revoke a share token",
        description="Revoke a share token: reads with it fail from now on.",
    )
    token_revoke.add_argument("share_token_id", help="share token id (see 'run share token list')")
    token_revoke.set_defaults(func=guard(token_revoke_verb))


def share_grant(args: argparse.Namespace) -> int:
    from .commands import client_for
    from .sharing import grant_viewer

    with client_for(args) as client:
        grant = grant_viewer(
            client, args.run_id, email=args.email, user_id=args.user,
            organization_id=args.organization,
        )
    print(grant.grant_id)
    print(
        f"granted {grant.subject_type} {grant.subject_id} viewer access to run {grant.resource_id}",
        file=sys.stderr,
    )
    return 0


def share_revoke(args: argparse.Namespace) -> int:
    from .commands import client_for

    with client_for(args) as client:
        grant = client.revoke_grant(args.grant_id)
    print(f"revoked grant {grant.grant_id} ({grant.subject_type} {grant.subject_id})")
    return 0


def token_create(args: argparse.Namespace) -> int:
    from .commands import client_for
    from .sharing import share_token_for_run

    with client_for(args) as client:
        created = share_token_for_run(client, args.run_id, args.expires_at)
    print(created.share_token)
    expires = f"until {created.expires_at:%Y-%m-%d %H:%M %Z}" if created.expires_at else "no expiry"
    print(
        f"share token {created.share_token_id} ({expires}) can view run {args.run_id}; "
        "it is shown only now: pass it with --share-token",
        file=sys.stderr,
    )
    return 0


def token_list(args: argparse.Namespace) -> int:
    from .commands import client_for

    with client_for(args) as client:
        for token in client.list_share_tokens(run_id=args.run_id):
            expires = f"{token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "never"
            state = "revoked" if token.revoked else "active"
            print(
                f"{token.share_token_id}  created {token.created_at:%Y-%m-%d %H:%M}  "
                f"expires {expires}  {state}"
            )
    return 0


def token_revoke_verb(args: argparse.Namespace) -> int:
    from .commands import client_for

    with client_for(args) as client:
        token = client.revoke_share_token(args.share_token_id)
    print(f"revoked share token {token.share_token_id}")
    return 0
