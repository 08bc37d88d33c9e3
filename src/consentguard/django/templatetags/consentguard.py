"""``{% load consentguard %}``: ``{% consentguard_banner %}`` puts the consent banner on a page.

::

    {% consentguard_banner %}                                  {# POLICY_URL from settings #}
    {% consentguard_banner policy_url="/cookies/" %}
    <form method="post" action="{% consentguard_endpoint %}">…</form>
"""

from __future__ import annotations

from django import template
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe

from ...banner import banner_tag
from ..conf import get_guard
from ..conf import policy_url as configured_policy_url

__all__ = ["consentguard_banner", "consentguard_endpoint", "register"]

register = template.Library()


@register.simple_tag
def consentguard_banner(policy_url: str | None = None, texts: dict[str, str] | None = None
                        ) -> SafeString:
    """The ``<script>`` tag loading the banner from the consent endpoint (under the
    script prefix), linking the cookie policy: ``policy_url``, else
    ``CONSENTGUARD["POLICY_URL"]`` (a URL name or a path).

    :param policy_url: a link to the cookie policy shown in the banner's first layer.
    :param texts: banner texts replacing the English defaults (see
        :func:`consentguard.banner.banner_tag`).
    """
    url = policy_url if policy_url is not None else configured_policy_url()
    tag = banner_tag(get_guard(), prefix=get_script_prefix(), texts=texts, policy_url=url)
    return mark_safe(tag)  # banner_tag escapes every attribute


@register.simple_tag
def consentguard_endpoint() -> str:
    """The consent endpoint's URL under the script prefix (``/_consent``), for a form's
    ``action`` or a script's ``fetch``.

    :raises ValueError: when the guard serves no endpoint (``"ENDPOINT": None``).
    """
    endpoint = get_guard().endpoint
    if endpoint is None:
        raise ValueError('CONSENTGUARD["ENDPOINT"] is None: there is no consent endpoint')
    return f"{get_script_prefix().rstrip('/')}{endpoint}"
