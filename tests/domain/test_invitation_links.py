"""Personal survey links: unguessable, rebuilt identically for re-sent emails, useless without the key."""

import base64
import re

from portal.domain.invitations import link_token, response_key
from portal.models import Invitation

SECRET = "x" * 40


def invitation(ident: int = 7, nonce: str = "ab" * 16) -> Invitation:
    return Invitation(id=ident, respondent_id=1, campaign_id=1, province_id=1, questionnaire_version_id=1,
                      nonce=nonce, form_codes="DP-LDSO")


def test_link_carries_the_id_and_160_bits_of_mac():
    token = link_token(invitation(), SECRET)
    ident, _, mac = token.partition(".")
    assert ident == "7"
    assert len(base64.urlsafe_b64decode(mac + "=")) * 8 == 160  # the link's own MAC, not the constant


def test_the_same_invitation_always_gets_the_same_link():
    assert link_token(invitation(), SECRET) == link_token(invitation(), SECRET)


def test_another_key_or_nonce_gives_another_link():
    base = link_token(invitation(), SECRET)
    assert link_token(invitation(), "y" * 40) != base
    assert link_token(invitation(nonce="cd" * 16), SECRET) != base


def test_answer_keys_differ_per_form_and_never_contain_the_invitation_id():
    first = response_key(7, "DP-LDSO", SECRET)
    assert first != response_key(7, "BO-LD", SECRET)
    assert first != response_key(8, "DP-LDSO", SECRET)
    assert re.fullmatch(r"[0-9a-f]{64}", first)  # an HMAC's digits and nothing else: no "id7-…" around it
    assert response_key(7, "DP-LDSO", "y" * 40) != first


def test_answer_keys_do_not_carry_the_invitation_id_at_either_end():
    keys = {number: response_key(number, "DP-LDSO", SECRET) for number in range(1, 1000)}
    carrying = [number for number, key in keys.items()
                if key.startswith((str(number), f"{number:x}")) or key.endswith((str(number), f"{number:x}"))]
    # A hash starts or ends with a given short string now and then; a key built from the id always does.
    assert len(carrying) < 50, carrying
