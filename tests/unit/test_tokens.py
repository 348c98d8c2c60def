import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from titanium.core import tokens


@pytest.fixture
def issuer():
    return tokens.TokenIssuer(tokens.load_private_key(tokens.generate_private_key_pem()), "titanium-auth", "titanium", 60)


def keys_of(issuer):
    return tokens.keys_from_jwks({"keys": [issuer.jwk]})


def test_an_issued_token_verifies_against_the_published_key(issuer):
    claims = tokens.verify(issuer.issue(7, "alice"), keys_of(issuer), "titanium-auth", "titanium")
    assert claims["user_id"] == 7 and claims["username"] == "alice" and claims["sub"] == "7"
    assert {"exp", "iat", "iss", "aud", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == pytest.approx(60, abs=1)  # iat to the millisecond, exp in seconds


def test_every_token_has_its_own_id(issuer):
    first = tokens.verify(issuer.issue(1, "a"), keys_of(issuer), "titanium-auth", "titanium")
    second = tokens.verify(issuer.issue(1, "a"), keys_of(issuer), "titanium-auth", "titanium")
    assert first["jti"] != second["jti"]


def test_the_jwks_is_public_only(issuer):
    assert set(issuer.jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert issuer.jwk["kty"] == "OKP" and issuer.jwk["crv"] == "Ed25519"


def test_an_expired_token_is_refused(issuer):
    now = int(time.time())
    claims = {"sub": "1", "user_id": 1, "username": "a", "iss": "titanium-auth", "aud": "titanium",
              "iat": now - 120, "exp": now - 60, "jti": "x"}
    token = jwt.encode(claims, issuer.private_key, algorithm="EdDSA", headers={"kid": issuer.jwk["kid"]})
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(token, keys_of(issuer), "titanium-auth", "titanium")


def test_a_token_for_another_audience_or_issuer_is_refused(issuer):
    token = issuer.issue(1, "a")
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, keys_of(issuer), "titanium-auth", "someone-else")
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, keys_of(issuer), "another-issuer", "titanium")


def test_a_token_signed_by_another_key_is_refused(issuer):
    stranger = tokens.TokenIssuer(tokens.load_private_key(tokens.generate_private_key_pem()), "titanium-auth", "titanium", 60)
    with pytest.raises(tokens.UnknownKeyError):
        tokens.verify(stranger.issue(1, "a"), keys_of(issuer), "titanium-auth", "titanium")
    forged = stranger.issue(1, "a")
    header = jwt.get_unverified_header(forged)
    assert header["kid"] != issuer.jwk["kid"]


def test_a_tampered_token_is_refused(issuer):
    head, _payload, signature = issuer.issue(1, "alice").split(".")
    other_payload = issuer.issue(2, "mallory").split(".")[1]
    with pytest.raises(tokens.TokenError):
        tokens.verify(f"{head}.{other_payload}.{signature}", keys_of(issuer), "titanium-auth", "titanium")


def test_an_unsigned_token_is_refused(issuer):
    token = jwt.encode({"sub": "1"}, key=None, algorithm="none", headers={"kid": issuer.jwk["kid"]})
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, keys_of(issuer), "titanium-auth", "titanium")


@pytest.mark.parametrize(("header", "expected"), [
    ("Bearer abc.def.ghi", "abc.def.ghi"),
    ("bearer abc", "abc"),
    (None, None),
    ("", None),
    ("Basic abc", None),
    ("Bearer", None),
    ("Bearer a b", None),
])
def test_bearer_header_parsing(header, expected):
    assert tokens.bearer_token(header) == expected


def test_the_embedded_key_is_made_once_and_kept(tmp_path):
    path = tmp_path / "keys" / "jwt.pem"
    first = tokens.load_or_create_key_file(path)
    second = tokens.load_or_create_key_file(path)
    assert tokens.public_jwk(first.public_key()) == tokens.public_jwk(second.public_key())
    assert path.stat().st_mode & 0o777 == 0o600


def _public_key_made_by_a_process_of_its_own(path: str) -> dict:
    return tokens.public_jwk(tokens.load_or_create_key_file(Path(path)).public_key())


def test_auth_processes_starting_at_once_all_use_one_whole_key(tmp_path):
    # `titanium up --replicas auth=2`: each used to risk reading the other's half-written file.
    for attempt in range(5):
        path = tmp_path / f"attempt-{attempt}" / "jwt.pem"
        with ProcessPoolExecutor(6, mp_context=multiprocessing.get_context("fork")) as pool:
            keys = list(pool.map(_public_key_made_by_a_process_of_its_own, [str(path)] * 12))
        assert all(key == keys[0] for key in keys)
        assert [entry.name for entry in path.parent.iterdir()] == ["jwt.pem"], "no draft left behind"


@pytest.mark.parametrize("user_id", ["7", 7.0, True, 0, None])
def test_a_properly_signed_token_with_a_user_id_that_is_not_a_positive_integer_is_refused(issuer, user_id):
    claims = jwt.decode(issuer.issue(7, "alice"), options={"verify_signature": False})
    forged = jwt.encode({**claims, "user_id": user_id}, issuer.private_key, algorithm=tokens.ALGORITHM,
                        headers={"kid": issuer.jwk["kid"]})
    with pytest.raises(tokens.TokenError, match="user_id"):
        tokens.verify(forged, keys_of(issuer), "titanium-auth", "titanium")


@pytest.mark.parametrize("wrong", [{"username": 7}, {"username": ""}, {"iat": "now"}, {"exp": True}, {"sub": "8"},
                                   {"jti": 5}, {"sid": 5}, {"sid": ""}])
def test_a_properly_signed_token_with_a_claim_of_the_wrong_type_is_refused(issuer, wrong):
    claims = jwt.decode(issuer.issue(7, "alice"), options={"verify_signature": False})
    forged = jwt.encode({**claims, **wrong}, issuer.private_key, algorithm=tokens.ALGORITHM,
                        headers={"kid": issuer.jwk["kid"]})
    with pytest.raises(tokens.TokenError):
        tokens.verify(forged, keys_of(issuer), "titanium-auth", "titanium")


def test_a_token_of_a_session_names_it_and_is_issued_to_the_millisecond(issuer):
    claims = tokens.verify(issuer.issue(7, "alice", "family1"), keys_of(issuer), "titanium-auth", "titanium")
    assert claims["sid"] == "family1"
    assert abs(claims["iat"] - time.time()) < 5 and round(claims["iat"], 3) == claims["iat"]


def test_refresh_tokens_are_random_and_stored_as_a_hash():
    first, second = tokens.new_refresh_token(), tokens.new_refresh_token()
    assert first != second and len(first) >= 43
    digest = tokens.refresh_token_hash(first)
    assert len(digest) == 64 and first not in digest and digest == tokens.refresh_token_hash(first)


def _public_pem(issuer) -> str:
    return issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_verification_keys_are_read_from_public_and_private_pem_blocks(issuer):
    other = tokens.TokenIssuer(tokens.load_private_key(tokens.generate_private_key_pem()), "titanium-auth", "titanium", 60)
    private_pem = other.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()).decode()
    keys = tokens.load_public_keys(f"{_public_pem(issuer)}\n{private_pem}")
    assert [tokens.public_jwk(key)["kid"] for key in keys] == [issuer.jwk["kid"], other.jwk["kid"]]
    # A token either signed verifies against the keys read.
    by_kid = {tokens.public_jwk(key)["kid"]: key for key in keys}
    assert tokens.verify(other.issue(3, "bob"), by_kid, "titanium-auth", "titanium")["username"] == "bob"


@pytest.mark.parametrize("text", ["", "  \n"])
def test_blank_verification_keys_are_none(text):
    assert tokens.load_public_keys(text) == []


@pytest.mark.parametrize("text", ["not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"])
def test_a_verification_key_pasted_wrongly_is_an_error(text):
    with pytest.raises(ValueError):
        tokens.load_public_keys(text)
