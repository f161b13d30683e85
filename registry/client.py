"""The portal's HTTP client for the distribution registry's own API (direct, not via nginx)."""

import json
from dataclasses import dataclass

import requests
from django.conf import settings

from .tokens import issue_token

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
MANIFEST_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST}) | INDEX_TYPES
ACCEPT_MANIFESTS = ", ".join(sorted(MANIFEST_TYPES))
# Not a valid namespace, so no user can ever act under this name.
PORTAL_SUBJECT = "_portal"


class RegistryError(Exception):
    pass


@dataclass(frozen=True)
class FetchedManifest:
    digest: str
    media_type: str
    raw: bytes

    @property
    def body(self) -> dict:
        return json.loads(self.raw)


class RegistryClient:
    def __init__(self, base_url: str | None = None, timeout: float = 30.0):
        self.base_url = (base_url or settings.REGISTRY_URL).rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _headers(self, repository: str, actions: list[str], **extra: str) -> dict[str, str]:
        access = [{"type": "repository", "name": repository, "actions": actions}]
        token = issue_token(PORTAL_SUBJECT, access, lifetime=300)["token"]
        return {"Authorization": f"Bearer {token}", **extra}

    def _request(self, method: str, path: str, headers: dict, **kwargs) -> requests.Response:
        try:
            response = self.session.request(
                method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as error:
            raise RegistryError(f"{method} {path}: {error}") from error
        return response

    def get_manifest(self, repository: str, reference: str) -> FetchedManifest | None:
        headers = self._headers(repository, ["pull"], Accept=ACCEPT_MANIFESTS)
        response = self._request("GET", f"/v2/{repository}/manifests/{reference}", headers)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RegistryError(f"manifest {repository}:{reference}: HTTP {response.status_code}")
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        if media_type not in MANIFEST_TYPES:
            media_type = json.loads(response.content).get("mediaType", media_type)
        digest = response.headers.get("Docker-Content-Digest", "")
        return FetchedManifest(digest=digest, media_type=media_type, raw=response.content)

    def head_manifest(self, repository: str, reference: str) -> tuple[str, str] | None:
        """The digest and media type of a manifest (by tag or digest); None if there is none."""
        headers = self._headers(repository, ["pull"], Accept=ACCEPT_MANIFESTS)
        response = self._request("HEAD", f"/v2/{repository}/manifests/{reference}", headers)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RegistryError(f"manifest {repository}:{reference}: HTTP {response.status_code}")
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        return response.headers.get("Docker-Content-Digest", ""), media_type

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest (and every tag on it); False if the registry had none by that
        digest."""
        headers = self._headers(repository, ["delete"])
        response = self._request("DELETE", f"/v2/{repository}/manifests/{digest}", headers)
        if response.status_code == 404:
            return False
        if response.status_code != 202:
            raise RegistryError(f"delete {repository}@{digest}: HTTP {response.status_code}")
        return True

    def put_manifest(self, repository: str, reference: str, raw: bytes, media_type: str) -> str:
        """Store a manifest's exact bytes under a tag or its digest; the digest."""
        headers = self._headers(repository, ["pull", "push"], **{"Content-Type": media_type})
        path = f"/v2/{repository}/manifests/{reference}"
        response = self._request("PUT", path, headers, data=raw)
        if response.status_code != 201:
            raise RegistryError(
                f"put {repository}:{reference}: HTTP {response.status_code} {response.text[:200]}"
            )
        return response.headers.get("Docker-Content-Digest", "")

    def mount_blob(self, repository: str, digest: str, source: str) -> None:
        """Link a blob of `source` into `repository` without uploading it again."""
        access = [
            {"type": "repository", "name": repository, "actions": ["pull", "push"]},
            {"type": "repository", "name": source, "actions": ["pull"]},
        ]
        token = issue_token(PORTAL_SUBJECT, access, lifetime=300)["token"]
        path = f"/v2/{repository}/blobs/uploads/?mount={digest}&from={source}"
        response = self._request("POST", path, {"Authorization": f"Bearer {token}"})
        if response.status_code != 201:
            # 202 means the registry did not find the blob to mount and opened an upload.
            raise RegistryError(
                f"mount {digest} from {source} into {repository}: HTTP {response.status_code}"
            )

    def get_blob_json(self, repository: str, digest: str) -> dict:
        headers = self._headers(repository, ["pull"])
        response = self._request("GET", f"/v2/{repository}/blobs/{digest}", headers)
        if response.status_code != 200:
            raise RegistryError(f"blob {repository}@{digest}: HTTP {response.status_code}")
        return response.json()

    def list_tags(self, repository: str) -> list[str]:
        headers = self._headers(repository, ["pull"])
        tags: list[str] = []
        path = f"/v2/{repository}/tags/list?n=1000"
        while path:
            response = self._request("GET", path, headers)
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise RegistryError(f"tags of {repository}: HTTP {response.status_code}")
            tags.extend(response.json().get("tags") or [])
            path = response.links.get("next", {}).get("url", "")
        return tags

    def catalog(self) -> list[str]:
        token = issue_token(
            PORTAL_SUBJECT, [{"type": "registry", "name": "catalog", "actions": ["*"]}], 300
        )["token"]
        headers = {"Authorization": f"Bearer {token}"}
        names: list[str] = []
        path = "/v2/_catalog?n=1000"
        while path:
            response = self._request("GET", path, headers)
            if response.status_code != 200:
                raise RegistryError(f"catalog: HTTP {response.status_code}")
            names.extend(response.json().get("repositories") or [])
            path = response.links.get("next", {}).get("url", "")
        return names
