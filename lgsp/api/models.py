"""The typed bodies of lgsp's HTTP API: what OpenAPI publishes and FastAPI checks on the way out.

One model per body a client sees. Handlers that return a model's shape declare it as ``response_model``
(FastAPI then validates the answer, so the published schema cannot drift from what is sent); handlers that
answer exact audited bytes (202 acknowledgements) declare it under ``responses=``. Examples are the demo's
data (``lgsp demo``), so a reader sees values they will meet.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SHA256 = "1892ba6c9e9cd74921be060019805a237e9c73f9562c9a33338a64ae8c00283c"
MESSAGE_ID = "b53a34e2-42ad-4c2b-a600-4706041524a7"
CITY = "000.00.12.H10"
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
NATIONAL = "000.00.00.G22"


class Open(BaseModel):
    """A body that may grow new fields: clients must ignore what they do not know."""

    model_config = ConfigDict(extra="allow")


# --- problems (RFC 9457) --------------------------------------------------------------------------


class FieldError(Open):
    field: str = Field(examples=["To/OrganId"])
    message: str | None = Field(None, examples=["unknown agency 000.00.99.H10"])


class ProblemDetails(Open):
    """RFC 9457 problem details; ``type`` is stable per kind of failure (the list is the enum)."""

    type: str = Field(examples=["https://lgsp.dev/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(ge=400, le=599, examples=[404])
    detail: str = Field(examples=["no document 'nope' for agency 000.00.12.H10"])
    instance: str | None = Field(None, examples=["/documents/nope"])
    errors: list[FieldError] | None = None


# --- oauth ------------------------------------------------------------------------------------------


class TokenForm(BaseModel):
    grant_type: Literal["client_credentials"]
    scope: str | None = Field(None, description="space-separated subset of the client's scopes",
                              examples=["gateway"])
    client_id: str | None = Field(None, description="client_secret_post only (else HTTP Basic)")
    client_secret: str | None = Field(None, description="client_secret_post only (else HTTP Basic)")


class TokenResponse(Open):
    access_token: str = Field(examples=["eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjYxMjA2LWZlMjBlMDZjIn0.e30.sig"])
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(examples=[600])
    scope: str | None = Field(None, examples=["gateway"])


class OAuthError(Open):
    """RFC 6749 §5.2 error (the token endpoint speaks OAuth, not problem+json)."""

    error: str = Field(examples=["invalid_client"])
    error_description: str | None = None


class Jwk(Open):
    kty: str = Field(examples=["EC"])
    kid: str = Field(examples=["20261206-fe20e06c"])


class Jwks(Open):
    keys: list[Jwk]


class ServerMetadata(Open):
    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str]


# --- admin ------------------------------------------------------------------------------------------


class AgencyOut(BaseModel):
    code: str = Field(examples=["000.00.31.H10"])
    name: str = Field(examples=["Sở Tư pháp thành phố Cần Thơ"])
    parent: str | None = Field(examples=[CITY])


class SystemOut(BaseModel):
    id: str = Field(examples=["000.00.12.H10/MOTCUA"])
    name: str = Field(examples=["Hệ thống thông tin giải quyết thủ tục hành chính (một cửa)"])
    client: bool
    provider: bool
    jwks: dict[str, Any] | None
    #: SHA-256 fingerprints (hex) of the client certificates the system must present (mTLS binding).
    client_cert_sha256: list[str] | None = None


class ServiceOut(BaseModel):
    id: str = Field(examples=["000.00.25.H10/QUANTRAC/chat-luong-khong-khi"])
    name: str = Field(examples=["Số liệu quan trắc chất lượng không khí"])
    kind: str = Field(examples=["rest"])
    base_url: str = Field(examples=["http://127.0.0.1:9101"])
    wsdl_path: str | None
    timeout_seconds: float = Field(examples=[5.0])
    retry_attempts: int
    retry_backoff_seconds: float
    idempotent_methods: list[str] = Field(examples=[["GET"]])
    max_body_bytes: int | None
    signature_policy: str = Field(examples=["off"])
    keep_bodies: bool


class GrantOut(BaseModel):
    id: int
    client: str = Field(examples=["000.00.12.H10/MOTCUA"])
    service: str = Field(examples=["000.00.31.H10/HOTICH/khai-sinh"])
    methods: list[str] = Field(examples=[["GET"]])
    path: str = Field(examples=["birth-records/*"])


class ClientOut(BaseModel):
    client_id: str = Field(examples=["c_0ec8c3e75c6f8ce82a935714"])
    system: str | None = Field(examples=["000.00.12.H10/MOTCUA"])
    scopes: list[str] = Field(examples=[["gateway"]])
    disabled: bool
    description: str = Field(examples=["demo one-stop-shop system"])


class IssuedClient(BaseModel):
    """A new credential: the secret is shown once, here, and stored only as a hash."""

    client_id: str = Field(examples=["c_0ec8c3e75c6f8ce82a935714"])
    client_secret: str
    system: str | None = Field(examples=["000.00.12.H10/MOTCUA"])
    scopes: list[str] = Field(examples=[["gateway"]])


class RotatedSecret(BaseModel):
    client_id: str
    client_secret: str


class RevokedTokens(BaseModel):
    client_id: str
    #: Unix time: tokens issued before it are refused.
    tokens_not_before: int


class Checkpoint(BaseModel):
    """`GET /audit/checkpoint` with `Accept: application/json` (the text form is the note alone)."""

    model_config = {"extra": "allow"}
    checkpoint: str


class RotatedKey(BaseModel):
    kid: str = Field(examples=["20261206-02f48c46"])


class LimitOut(Open):
    service: str = Field(examples=["000.00.25.H10/QUANTRAC/chat-luong-khong-khi"])
    client: str | None = None
    rate: float | None = Field(None, examples=[10.0])
    burst: int | None = None
    quota: int | None = None
    per: str | None = None
    concurrency: int | None = None


class UsageItem(BaseModel):
    service: str
    limit: str
    shared: bool
    quota: int
    window_seconds: float
    remaining: int
    used: int
    resets_in_seconds: float


class Usage(BaseModel):
    system: str = Field(examples=["000.00.12.H10/MOTCUA"])
    backend: str = Field(examples=["store"])
    limits: list[UsageItem]


# --- audit ------------------------------------------------------------------------------------------


class AuditEntry(Open):
    index: int = Field(examples=[0])
    time: str = Field(examples=["2026-12-06T19:22:32.179853Z"])
    message_id: str = Field(examples=[MESSAGE_ID])
    correlation_id: str | None
    client: str | None = Field(examples=["000.00.12.H10/MOTCUA"])
    service: str | None
    method: str = Field(examples=["POST"])
    path: str = Field(examples=["/documents"])
    user_id: str | None
    status: int = Field(examples=[202])
    latency_us: int
    request_sha256: str | None
    response_sha256: str | None = Field(examples=[SHA256])
    problem_type: str | None
    signature_report_sha256: str | None
    extra: dict[str, Any]
    leaf_hash: str
    chain_hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")


class LogKey(Open):
    key_id: str
    algorithm: str = Field(examples=["Ed25519"])
    public_key: str
    status: str = Field(examples=["current"])
    created_at: str
    retired_at: str | None


class LogKeys(BaseModel):
    keys: list[LogKey]


class SignedTreeHead(Open):
    tree_size: int = Field(examples=[2])
    root_hash: str = Field(examples=["0d859a0e9dc4e846a34027a1ebfbee76c26852dc674c85b75384660fc05a27d2"])
    timestamp: str = Field(examples=["2026-12-06T19:22:32.340388Z"])
    key_id: str
    signature: str


class AuditBundle(Open):
    """An ``lgsp-audit-bundle`` (docs/protocols): what ``lgsp-audit-verify`` checks offline."""

    format: Literal["lgsp-audit-bundle"]
    version: int
    keys: list[LogKey]
    heads: list[SignedTreeHead]


class Receipt(AuditBundle):
    """One entry as a receipt: the stored fields at the top level, then the bundle proving them."""

    index: int
    message_id: str
    status: int


# --- operations -------------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not-ready"]
    checks: dict[str, str] = Field(examples=[{"store": "ok", "migrations": "current"}])


# --- documents and dossiers -------------------------------------------------------------------------


class EdxmlJson(BaseModel):
    """A packet sent as JSON instead of raw XML."""

    kind: Literal["edoc", "status"] | None = None
    data: str = Field(description="base64 of the .edxml file", pattern=BASE64,
                      json_schema_extra={"contentEncoding": "base64", "contentMediaType": "application/xml"},
                      examples=["PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz4="])


class DocumentAccepted(BaseModel):
    message_id: str = Field(examples=[MESSAGE_ID])
    id: str = Field(examples=[MESSAGE_ID])
    state: Literal["accepted"]
    kind: Literal["edoc", "status"]
    document_id: str = Field(examples=["000.00.12.H10,2026/12/06,84952/STTTT-VP"])
    recipients: list[str] = Field(examples=[[NATIONAL]])
    duplicate: bool
    warnings: list[Any]
    signature: str = Field(examples=["unsigned"])


class Document(Open):
    id: str = Field(examples=[MESSAGE_ID])
    direction: Literal["in", "out"]
    kind: Literal["edoc", "status"]
    agency: str = Field(examples=[CITY])
    sender: str | None = Field(examples=[CITY])
    recipients: list[str] = Field(examples=[[NATIONAL]])
    document_id: str | None
    code: str | None = Field(examples=["84952/STTTT-VP"])
    subject: str | None = Field(examples=["V/v thử nghiệm liên thông văn bản qua LGSP Cần Thơ"])
    status_code: str | None
    size: int
    sha256: str
    signature: str | None
    deviations: list[Any]
    created_at: str | None
    message_id: str | None = None
    delivery_state: str | None = None
    axis_doc_id: str | None = None
    attempts: int | None = None
    delivered_at: str | None = None
    last_error: str | None = None
    dms_status: str | None = None
    duplicates_dropped: int | None = None
    updated_at: str | None = None
    statuses: list[dict[str, Any]] | None = Field(None, description="edoc only: status packets received about it")


class DocumentPage(BaseModel):
    agency: str = Field(examples=[CITY])
    direction: Literal["in", "out"]
    items: list[Document]
    next: str | None = Field(description="pass as `after` for the next page")


class DmsStatusIn(BaseModel):
    status: Literal["INITIAL", "PROCESSING", "DONE", "FAIL"]


class DmsStatusOut(BaseModel):
    id: str
    dms_status: str = Field(examples=["PROCESSING"])
    previous: str | None = Field(examples=["INITIAL"])


class DirectoryAgency(Open):
    code: str = Field(examples=[NATIONAL])
    name: str = Field(examples=["Văn phòng Chính phủ"])
    parent: str | None
    mail: str | None
    code102: str | None
    synced_at: str | None


class Directory(BaseModel):
    count: int
    agencies: list[DirectoryAgency]


# --- signatures -------------------------------------------------------------------------------------


class SignatureVerdict(Open):
    """The verification report (docs/signatures.md): indication per EU DSS, then the details."""

    indication: Literal["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE"]
    sub_indication: str | None
    document: dict[str, Any]
    policy: str
    validation_time: str
    signatures: list[dict[str, Any]]
    warnings: list[str]
    errors: list[str]
