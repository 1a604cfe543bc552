"""Vietnamese (default) and English labels for the console; a missing key shows the key, never fails."""

from __future__ import annotations

LANGS = ("vi", "en")

LABELS: dict[str, tuple[str, str]] = {
    "console": ("Bảng điều khiển LGSP", "LGSP console"),
    "home": ("Tổng quan", "Overview"),
    "log": ("Nhật ký trao đổi", "Exchange log"),
    "registry": ("Danh mục dịch vụ", "Registry"),
    "clients": ("Tài khoản hệ thống và khóa", "Clients and keys"),
    "deliveries": ("Hàng đợi chuyển phát", "Deliveries"),
    "documents": ("Văn bản và hồ sơ", "Documents and dossiers"),
    "opendata": ("Dữ liệu mở", "Open data"),
    "signatures": ("Chữ ký số", "Signatures"),
    "login": ("Đăng nhập", "Sign in"),
    "logout": ("Đăng xuất", "Sign out"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "sso": ("Đăng nhập một lần (OIDC)", "Single sign-on (OIDC)"),
    # one message whatever the reason: "locked" told an outsider which usernames exist
    "login_failed": ("Tên đăng nhập hoặc mật khẩu không đúng, hoặc tài khoản đang tạm khóa do đăng nhập sai "
                     "nhiều lần (thử lại sau 15 phút).",
                     "Wrong username or password, or the account is locked for 15 minutes after repeated "
                     "failures."),
    "traffic": ("Lưu lượng theo dịch vụ", "Traffic per service"),
    "service": ("Dịch vụ", "Service"),
    "calls": ("Lượt gọi", "Calls"),
    "errors": ("Lỗi", "Errors"),
    "breakers": ("Cầu dao đang ngắt", "Open circuit breakers"),
    "dead_letters": ("Thư chết", "Dead letters"),
    "audit_head": ("Đầu cây nhật ký đã ký", "Last signed audit head"),
    "verifies": ("Hợp lệ", "Verifies"),
    "does_not_verify": ("KHÔNG hợp lệ", "Does NOT verify"),
    "none": ("Không có", "None"),
    "search": ("Tìm kiếm", "Search"),
    "older": ("Cũ hơn", "Older"),
    "status": ("Trạng thái", "Status"),
    "time": ("Thời gian", "Time"),
    "client": ("Hệ thống gọi", "Client"),
    "agency": ("Cơ quan", "Agency"),
    "since": ("Từ", "From"),
    "until": ("Đến", "Until"),
    "message_id": ("Mã thông điệp / tương quan", "Message / correlation id"),
    "entry": ("Bản ghi nhật ký", "Audit entry"),
    "receipt": ("Biên nhận (bằng chứng bao hàm)", "Receipt (inclusion proof)"),
    "verify_in_browser": ("Kiểm tra trong trình duyệt", "Verify in this browser"),
    "download_bundle": ("Tải gói bằng chứng", "Download evidence bundle"),
    "preview": ("Xem trước thay đổi", "Preview changes"),
    "apply": ("Áp dụng", "Apply"),
    "export_yaml": ("Xuất YAML", "Export YAML"),
    "no_changes": ("Không có thay đổi.", "No changes."),
    "create": ("Tạo", "Create"),
    "disable": ("Vô hiệu hóa", "Disable"),
    "rotate_keys": ("Xoay vòng khóa ký token", "Rotate token-signing keys"),
    "secret_once": ("Mật khẩu bí mật chỉ hiển thị một lần:", "The secret is shown only once:"),
    "replay": ("Gửi lại", "Replay"),
    "purge": ("Xóa bản ghi đã xong", "Purge finished"),
    "confirm": ("Xác nhận", "Confirm"),
    "verify": ("Kiểm tra", "Verify"),
    "file": ("Tệp", "File"),
    "not_found": ("Không tìm thấy", "Not found"),
    "forbidden": ("Không có quyền", "Not allowed"),
    "role": ("Vai trò", "Role"),
    "agencies": ("Cơ quan", "Agencies"),
    "systems": ("Hệ thống", "Systems"),
    "services": ("Dịch vụ", "Services"),
    "grants": ("Quyền truy cập", "Grants"),
    "last_error": ("Lỗi gần nhất", "Last error"),
    "attempts": ("Số lần thử", "Attempts"),
    "datasets": ("Bộ dữ liệu", "Datasets"),
    "last_run": ("Lần chạy gần nhất", "Last run"),
    "dossiers": ("Đồng bộ hồ sơ DVCQG", "Dossier sync (DVCQG)"),
    "sign_head": ("Ký đầu cây ngay", "Sign a head now"),
    "latency": ("Độ trễ p50 / p99 (ms)", "Latency p50 / p99 (ms)"),
}


def label(key: str, lang: str) -> str:
    pair = LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "vi" else pair[1]
