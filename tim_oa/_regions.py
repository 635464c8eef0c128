"""The Chat REST API's regional domains, each with its backup domain."""

from __future__ import annotations

import enum


class Region(enum.Enum):
    """A data-centre region of the Chat REST API.

    ``host`` is the primary domain; ``backup_host`` the documented fallback for when DNS of the
    primary is hijacked. Pass ``use_backup_domain=True`` to :class:`~tim_oa.Session` to use it.
    """

    CHINA = ("console.tim.qq.com", "adminapi.my-imcloud.com")
    SINGAPORE = ("adminapisgp.im.qcloud.com", "adminapisgp.my-imcloud.com")
    SEOUL = ("adminapikr.im.qcloud.com", "adminapikr.my-imcloud.com")
    TOKYO = ("adminapijpn.im.qcloud.com", "adminapijpn.my-imcloud.com")
    FRANKFURT = ("adminapiger.im.qcloud.com", "adminapiger.my-imcloud.com")
    SILICON_VALLEY = ("adminapiusa.im.qcloud.com", "adminapiusa.my-imcloud.com")
    JAKARTA = ("adminapiidn.im.qcloud.com", "adminapiidn.my-imcloud.com")
    # Listed on older pages only; possibly retired.
    MUMBAI = ("adminapiind.im.qcloud.com", "adminapiind.my-imcloud.com")

    @classmethod
    def from_name(cls, name: str) -> Region:
        """The region named ``name``, as the CLI and ``TIM_OA_REGION`` spell it.

        Case-insensitive; ``-`` and spaces count as ``_`` (``"singapore"``, ``"Silicon-Valley"``).
        ``Region("singapore")`` does the same. Raises ``ValueError`` listing the names.
        """
        if isinstance(name, str):
            key = name.strip().upper().replace("-", "_").replace(" ", "_")
            found = cls.__members__.get(key)
            if found is not None:
                return found
        names = ", ".join(m.lower() for m in cls.__members__)
        raise ValueError(f"unknown region {name!r}; one of: {names}")

    @classmethod
    def _missing_(cls, value: object) -> Region | None:
        if isinstance(value, str):
            return cls.from_name(value)
        return None

    @property
    def host(self) -> str:
        """The primary domain."""
        return self.value[0]

    @property
    def backup_host(self) -> str:
        """The backup domain."""
        return self.value[1]

    def base_url(self, *, backup: bool = False) -> str:
        """The HTTPS base URL of this region (the backup domain's when ``backup``)."""
        return f"https://{self.backup_host if backup else self.host}"
