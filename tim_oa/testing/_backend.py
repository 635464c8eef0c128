"""The emulator's backend: accounts, subscriptions and messages, behind typed methods.

It knows nothing of JSON bodies or HTTP: arguments arrive already read and shape-checked (see
``_handlers``), and the only errors raised are the service's domain errors (``Failure``): 130004
(no such account), 130008 (id in use), 70107 (owner not imported), 130006 / 130010 (caps), 60018 /
60019 (send pacing), and 6017 where a lookup fails (a subscriber that is not one, an unknown
``LastMsgKey``). Everything is synchronous and free of I/O; the caller holds the emulator's lock.

Choices the reference leaves open (all INFERRED) are noted where they are made.
"""

from __future__ import annotations

import bisect
import json
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any, Final

from .. import _limits as L
from .._codes import ErrorCode as C
from ._failure import Failure
from ._ratelimit import SendPacer
from ._records import Account, AccountRecord, MessageRecord, SubscriberRecord

_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ID_SUFFIX_LEN: Final = 8

# Per-user results of add_subscriber / delete_subscriber.
RESULT_FAILED: Final = 0
RESULT_DONE: Final = 1
RESULT_UNCHANGED: Final = 2


def _canonical_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class Backend:
    """All accounts, subscriptions and messages of one emulated app.

    Not thread-safe on its own: the emulator calls it under its lock. Options are plain attributes
    and may be changed between requests.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        seed: int = 0,
        known_users: Collection[str] | None = None,
        admins: Collection[str] = (),
        max_accounts_per_subscriber: int | None = None,
        send_per_second: float | None = L.SENDS_PER_SECOND_PER_ACCOUNT,
        broadcasts_per_hour: int | None = L.BROADCASTS_PER_HOUR_PER_ACCOUNT,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.known_users = known_users
        self.admins: frozenset[str] = frozenset(admins)
        self.imported: set[str] = set()  # added by the import commands
        self.deleted: set[str] = set()  # removed by account_delete (until imported again)
        self.max_accounts_per_subscriber = max_accounts_per_subscriber
        self.send_per_second = send_per_second
        self.broadcasts_per_hour = broadcasts_per_hour
        self.accounts: dict[str, Account] = {}
        self.tombstones: set[str] = set()
        self.user_index: dict[str, set[str]] = {}
        self._id_rng = random.Random(f"tim_oa.testing/ids/{seed}")

    def reset(self) -> None:
        """Drop every account and re-seed id generation."""
        self.accounts.clear()
        self.tombstones.clear()
        self.user_index.clear()
        self.imported.clear()
        self.deleted.clear()
        self._id_rng = random.Random(f"tim_oa.testing/ids/{self.seed}")

    def snapshot(self) -> dict[str, AccountRecord]:
        """Immutable copies of every live account."""
        return {aid: account.snapshot() for aid, account in self.accounts.items()}

    # -- lookups --

    def now(self) -> int:
        """The clock in whole Unix seconds (every stored timestamp)."""
        return int(self.clock())

    def get(self, account_id: str) -> Account:
        """The live account ``account_id``, or 130004."""
        account = self.accounts.get(account_id)
        if account is None:
            raise Failure(C.OA_NOT_FOUND, f"Official Account {account_id} does not exist")
        return account

    def find(self, account_id: str) -> Account | None:
        """The live account ``account_id``, or None."""
        return self.accounts.get(account_id)

    def is_known(self, user_id: str) -> bool:
        """Whether ``user_id`` is an imported account.

        Without ``known_users`` every user is, until ``account_delete`` removes it; with it,
        the users in it, the admins and the users the import commands added.
        """
        if user_id in self.deleted:
            return False
        return (
            self.known_users is None
            or user_id in self.known_users
            or user_id in self.imported
            or user_id in self.admins
        )

    # -- imported user accounts (im_open_login_svc) --

    def import_user(self, user_id: str) -> None:
        """Import one user account; importing it again changes nothing (one internal id)."""
        self.deleted.discard(user_id)
        self.imported.add(user_id)

    def delete_user(self, user_id: str) -> bool:
        """Delete one imported user account; False when it was not imported.

        The user's subscriptions end with it, without callbacks, and accounts it owns stay
        (INFERRED: Tencent says a deleted user's own data goes, and says nothing of Official
        Accounts). A deleted user may be imported again at once (as on Tencent's trial
        editions; other editions refuse it for three months, which is not emulated).
        """
        if not self.is_known(user_id):
            return False
        for account_id in list(self.user_index.get(user_id, ())):
            self._unsubscribe(self.accounts[account_id], user_id)
        self.imported.discard(user_id)
        self.deleted.add(user_id)
        return True

    def at_subscription_cap(self, user_id: str) -> bool:
        """Whether ``user_id`` may subscribe to no more accounts."""
        cap = self.max_accounts_per_subscriber
        return cap is not None and len(self.user_index.get(user_id, ())) >= cap

    def subscriptions(self, user_id: str) -> list[tuple[Account, SubscriberRecord]]:
        """The accounts ``user_id`` subscribes to, by subscription time then id (INFERRED)."""
        ordered = sorted(
            (self.accounts[aid].subscribers[user_id].subscribe_time, aid)
            for aid in self.user_index.get(user_id, ())
        )
        return [(self.accounts[aid], self.accounts[aid].subscribers[user_id]) for _, aid in ordered]

    # -- accounts --

    def check_create(self, owner: str, account_id: str | None) -> None:
        """Raise what a create of ``account_id`` by ``owner`` would fail with now."""
        if not self.is_known(owner):
            raise Failure(C.ACCOUNT_NOT_IMPORTED, "Owner_Account is not an imported account")
        if account_id is not None and (
            account_id in self.accounts or account_id in self.tombstones
        ):
            # A destroyed id stays taken (INFERRED from 130008's meaning).
            raise Failure(C.OA_ID_IN_USE, "OfficialAccountUserID is already in use")

    def create_account(
        self,
        owner: str,
        name: str,
        *,
        account_id: str | None = None,
        introduction: str = "",
        face_url: str = "",
        organization: str = "",
        custom_string: str = "",
        max_subscribers: int | None = None,
    ) -> str:
        """Create an account and return its id (``account_id`` or a generated one)."""
        self.check_create(owner, account_id)
        new_id = account_id if account_id is not None else self._generate_id()
        self.accounts[new_id] = Account(
            account_id=new_id,
            owner=owner,
            name=name,
            create_time=self.now(),
            pacer=SendPacer(self.send_per_second, self.broadcasts_per_hour),
            introduction=introduction,
            face_url=face_url,
            organization=organization,
            custom_string=custom_string,
            max_subscribers=max_subscribers or L.DEFAULT_MAX_SUBSCRIBERS,
        )
        return new_id

    def destroy_account(self, account_id: str) -> None:
        """Destroy an account; its subscriptions end and its id stays taken."""
        account = self.get(account_id)
        for user_id in list(account.subscribers):
            self._unsubscribe(account, user_id)
        del self.accounts[account_id]
        self.tombstones.add(account_id)

    def modify_account(
        self,
        account_id: str,
        *,
        name: str | None = None,
        introduction: str | None = None,
        face_url: str | None = None,
        organization: str | None = None,
        custom_string: str | None = None,
        max_subscribers: int | None = None,
    ) -> None:
        """Change the given profile fields; None leaves a field as it is."""
        account = self.get(account_id)
        if name is not None:
            account.name = name
        if introduction is not None:
            account.introduction = introduction
        if face_url is not None:
            account.face_url = face_url
        if organization is not None:
            account.organization = organization
        if custom_string is not None:
            account.custom_string = custom_string
        if max_subscribers is not None:
            # Lowering it below SubscriberNum is accepted and evicts nobody (INFERRED); the
            # account then refuses new subscribers until it is under the cap again.
            account.max_subscribers = max_subscribers

    # -- subscribers --

    def subscribers_page(
        self, account_id: str, start_seq: int, limit: int
    ) -> tuple[list[SubscriberRecord], int | None]:
        """Up to ``limit`` subscribers from subscription seq ``start_seq`` on, and the next seq."""
        account = self.get(account_id)
        start = bisect.bisect_left(account.sub_seqs, start_seq)
        seqs = account.sub_seqs[start : start + limit]
        after = start + limit
        next_seq = account.sub_seqs[after] if after < len(account.sub_seqs) else None
        return [account.subscribers[account.by_seq[seq]] for seq in seqs], next_seq

    def check_add_subscribers(self, account_id: str, user_ids: Sequence[str]) -> Account:
        """Raise what adding ``user_ids`` would fail with as a whole now; return the account."""
        account = self.get(account_id)
        if account.is_full:
            raise Failure(C.OA_SUBSCRIBER_LIMIT, "the Official Account is full")
        # Mirroring 130006: when every user in the request is a new subscriber already at the
        # per-user cap, the whole request fails with 130010; otherwise those users get Result 0
        # (INFERRED).
        if all(
            user not in account.subscribers and self.at_subscription_cap(user) for user in user_ids
        ):
            raise Failure(C.OA_SUBSCRIPTION_LIMIT, "the users subscribe to too many accounts")
        return account

    def add_subscribers(
        self, account_id: str, user_ids: Sequence[str], *, refused: Collection[str] = ()
    ) -> list[int]:
        """Subscribe each user; return each one's Result (1 added, 2 already, 0 failed).

        ``refused`` users (turned away by the before-subscribe webhook) get Result 0 (INFERRED).
        """
        account = self.check_add_subscribers(account_id, user_ids)
        now = self.now()
        results = []
        for user in user_ids:
            if user in account.subscribers:
                result = RESULT_UNCHANGED
            elif (
                user in refused
                or not self.is_known(user)
                or account.is_full
                or self.at_subscription_cap(user)
            ):
                result = RESULT_FAILED
            else:
                self._subscribe(account, user, now)
                result = RESULT_DONE
            results.append(result)
        return results

    def delete_subscribers(self, account_id: str, user_ids: Sequence[str]) -> list[int]:
        """Unsubscribe each user; return each one's Result (1 removed, 2 was not, 0 unknown)."""
        account = self.get(account_id)
        results = []
        for user in user_ids:
            if user in account.subscribers:
                self._unsubscribe(account, user)
                result = RESULT_DONE
            elif not self.is_known(user):
                result = RESULT_FAILED  # not an imported account (INFERRED)
            else:
                result = RESULT_UNCHANGED
            results.append(result)
        return results

    def modify_subscriber(self, account_id: str, user_id: str, custom_string: str) -> None:
        """Set one subscriber's ``CustomString``; 6017 if the user does not subscribe."""
        account = self.get(account_id)
        record = account.subscribers.get(user_id)
        if record is None:
            raise Failure(
                C.INVALID_PARAMETER,
                "Subscriber_Account does not subscribe to this Official Account",
            )
        account.subscribers[user_id] = replace(record, custom_string=custom_string)

    # -- messages --

    def check_send(
        self, account_id: str, msg_body: list[Any], msg_random: int
    ) -> tuple[int, str] | None:
        """The ``(MsgTime, MsgKey)`` of the original if this send is a duplicate, else None.

        Raises the pacing error a new send would get now. The same ``MsgBody`` and ``Random``
        within the duplicate window answer with the original message and store nothing
        (INFERRED: Tencent only says the later one is "discarded"). This is what makes a retried
        send with the same Random safe.
        """
        account = self.get(account_id)
        now = self.clock()
        hit = account.dedup.get(self._dedup_key(account, msg_body, msg_random, now))
        if hit is not None:
            return hit[1], hit[2]
        # Which codes the pacing limits return is not published (INFERRED: 60018, 60019).
        broken = account.pacer.check(now)
        if broken == "per_second":
            raise Failure(C.TOO_MANY_REQUESTS, "this Official Account sends too fast; retry later")
        if broken == "per_hour":
            raise Failure(
                C.TOO_MANY_REQUESTS_2, "this Official Account reached its broadcasts per hour"
            )
        return None

    def send(
        self,
        account_id: str,
        msg_body: list[Any],
        msg_random: int,
        *,
        stored_body: list[Any] | None = None,
        cloud_custom_data: str | None = None,
        offline_push_info: dict[str, Any] | None = None,
        online_only: bool = False,
        send_msg_control: Sequence[str] = (),
        discard: bool = False,
    ) -> tuple[int, str]:
        """Pace and store one broadcast; return its ``(MsgTime, MsgKey)`` (see ``check_send``).

        ``msg_body`` is the body as sent (what duplicates are recognised by); ``stored_body``,
        when given, is what is stored and delivered instead (a before-send webhook's rewrite).
        ``discard`` (the webhook's silent drop) takes a key and counts for pacing and duplicates
        but stores nothing (INFERRED: the sender was told the send happened).
        """
        original = self.check_send(account_id, msg_body, msg_random)
        if original is not None:
            return original
        account = self.get(account_id)
        now = self.clock()
        seq = account.next_msg_seq
        account.next_msg_seq += 1
        msg_time = int(now)
        key = f"{seq}_1_{msg_time}"
        if not discard:
            account.msg_index[key] = len(account.messages)
            account.messages.append(
                MessageRecord(
                    seq=seq,
                    key=key,
                    time=msg_time,
                    random=msg_random,
                    from_account=account_id,
                    body=msg_body if stored_body is None else stored_body,
                    cloud_custom_data=cloud_custom_data,
                    offline_push_info=offline_push_info,
                    online_only=online_only,
                    send_msg_control=tuple(send_msg_control),
                )
            )
            account.last_msg_time = msg_time
        account.pacer.record(now)
        dedup_key = (_canonical_json(msg_body), msg_random)
        account.dedup[dedup_key] = (now, msg_time, key)
        account.dedup_order.append((now, dedup_key))
        return msg_time, key

    @staticmethod
    def _dedup_key(
        account: Account, msg_body: list[Any], msg_random: int, now: float
    ) -> tuple[str, int]:
        window = L.SEND_DEDUP_WINDOW_SECONDS
        while account.dedup_order and now - account.dedup_order[0][0] >= window:
            sent_at, old_key = account.dedup_order.popleft()
            if account.dedup.get(old_key, (None,))[0] == sent_at:
                del account.dedup[old_key]
        return (_canonical_json(msg_body), msg_random)

    def history(
        self, account_id: str, last_key: str, count: int, *, with_recalled: bool
    ) -> list[MessageRecord]:
        """Up to ``count`` messages older than ``last_key`` ("" for the newest), newest first."""
        account = self.get(account_id)
        if last_key:
            position = account.msg_index.get(last_key)
            if position is None:
                raise Failure(
                    C.INVALID_PARAMETER, "LastMsgKey is not a message of this Official Account"
                )
        else:
            position = len(account.messages)
        picked: list[MessageRecord] = []
        index = position - 1
        while index >= 0 and len(picked) < count:
            message = account.messages[index]
            if with_recalled or not message.recalled:
                picked.append(message)
            index -= 1
        return picked

    def recall(
        self, account_id: str, keys: Sequence[str], reason: str | None
    ) -> list[MessageRecord | None]:
        """Recall messages by key; return each one's record (None for a key never sent).

        Recalling twice succeeds again: the message is recalled either way (INFERRED).
        """
        account = self.get(account_id)
        results: list[MessageRecord | None] = []
        for key in keys:
            position = account.msg_index.get(key)
            if position is None:
                results.append(None)
                continue
            message = account.messages[position]
            if not message.recalled:
                account.messages[position] = replace(message, recalled=True, recall_reason=reason)
            results.append(message)
        return results

    # -- internals --

    def _generate_id(self) -> str:
        while True:
            suffix = "".join(self._id_rng.choices(_ID_ALPHABET, k=_ID_SUFFIX_LEN))
            candidate = L.GENERATED_ID_PREFIX + suffix
            if candidate not in self.accounts and candidate not in self.tombstones:
                return candidate

    def _subscribe(self, account: Account, user_id: str, now: int) -> None:
        seq = account.next_sub_seq
        account.next_sub_seq += 1
        account.subscribers[user_id] = SubscriberRecord(user_id, now, seq=seq)
        account.sub_seqs.append(seq)  # seqs only grow, so the list stays sorted
        account.by_seq[seq] = user_id
        self.user_index.setdefault(user_id, set()).add(account.account_id)

    def _unsubscribe(self, account: Account, user_id: str) -> None:
        record = account.subscribers.pop(user_id)
        del account.sub_seqs[bisect.bisect_left(account.sub_seqs, record.seq)]
        del account.by_seq[record.seq]
        subscribed = self.user_index[user_id]
        subscribed.discard(account.account_id)
        if not subscribed:
            del self.user_index[user_id]
