"""Sign-in with the council's identity provider: the OpenID Connect authorisation-code flow with PKCE
(RFC 7636), for Microsoft Entra ID or any OIDC issuer.

1. ``/sign-in/oidc`` keeps a random ``state``, ``nonce`` and PKCE verifier in the session and sends the
   browser to the provider's ``authorization_endpoint``.
2. The provider sends it back to ``/auth/callback`` with a ``code`` and the ``state``. A state that is
   not the session's is refused (a forged or replayed callback).
3. The code is exchanged at the ``token_endpoint`` (with the client secret, and the verifier). The ID
   token is checked (signature from the provider's JWKS, issuer, audience = our client id, expiry, the
   session's nonce). The access token is checked exactly as the services check it
   (:class:`estate_runtime.auth.TokenVerifier`), so a person signed in is a person the APIs accept.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
import jwt


class SignInFailed(Exception):
    """The provider's answer cannot be trusted or used; the message says what to check."""


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> PendingSignIn:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        scopes: str,
        http: httpx.AsyncClient,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self.http = http
        self._provider: Provider | None = None
        self._keys: dict[str, Any] = {}

    async def provider(self) -> Provider:
        if self._provider is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            try:
                answer = await self.http.get(url)
                answer.raise_for_status()
                doc: dict[str, Any] = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SignInFailed(
                    f"the identity provider's configuration could not be read from {url}"
                ) from exc
            try:
                self._provider = Provider(
                    issuer=doc["issuer"],
                    authorization_endpoint=doc["authorization_endpoint"],
                    token_endpoint=doc["token_endpoint"],
                    jwks_uri=doc["jwks_uri"],
                    end_session_endpoint=doc.get("end_session_endpoint"),
                )
            except KeyError as exc:
                raise SignInFailed(f"the identity provider's configuration has no {exc.args[0]}") from exc
        return self._provider

    async def _signing_key(self, token: str, provider: Provider) -> Any:
        """The provider's key for ``token`` (by ``kid``); the key set is read again for a key not seen
        before, as providers rotate keys."""
        try:
            kid = str(jwt.get_unverified_header(token).get("kid", ""))
        except jwt.DecodeError as exc:
            raise SignInFailed("the ID token is not a JWT") from exc
        if kid not in self._keys:
            try:
                answer = await self.http.get(provider.jwks_uri)
                answer.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(answer.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                raise SignInFailed(
                    f"the identity provider's keys could not be read from {provider.jwks_uri}"
                ) from exc
            self._keys = {str(key.key_id or ""): key.key for key in key_set.keys}
        if kid not in self._keys:
            raise SignInFailed("the ID token is signed with a key the identity provider does not publish")
        return self._keys[kid]

    async def authorization_url(self, pending: PendingSignIn, redirect_uri: str) -> str:
        provider = await self.provider()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scopes,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        return provider.authorization_endpoint + separator + urllib.parse.urlencode(query)

    async def exchange(self, code: str, pending: PendingSignIn, redirect_uri: str) -> dict[str, Any]:
        """The provider's tokens for ``code``; the ID token checked against the pending sign-in."""
        provider = await self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            answer = await self.http.post(provider.token_endpoint, data=form)
        except httpx.HTTPError as exc:
            raise SignInFailed("the identity provider did not answer the token request") from exc
        if answer.status_code != 200:
            raise SignInFailed(
                f"the identity provider refused the sign-in code (status {answer.status_code}): "
                f"{answer.text[:200]}"
            )
        tokens: dict[str, Any] = answer.json()
        if "id_token" not in tokens or "access_token" not in tokens:
            raise SignInFailed("the identity provider's answer has no ID token or no access token")
        key = await self._signing_key(tokens["id_token"], provider)
        claims = self._check_id_token(tokens["id_token"], key, provider)
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending.nonce):
            raise SignInFailed("the ID token was not issued for this sign-in (its nonce does not match)")
        tokens["id_claims"] = claims
        return tokens

    def _check_id_token(self, id_token: str, key: Any, provider: Provider) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
                audience=self.client_id,
                issuer=provider.issuer,
                leeway=60,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise SignInFailed(f"the ID token is not valid: {exc}") from exc
        return claims

    async def sign_out_url(self, return_to: str) -> str | None:
        provider = await self.provider()
        if not provider.end_session_endpoint:
            return None
        query = urllib.parse.urlencode({"post_logout_redirect_uri": return_to, "client_id": self.client_id})
        return f"{provider.end_session_endpoint}?{query}"
