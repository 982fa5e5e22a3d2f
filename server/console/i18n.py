"""The console's two languages: Japanese and English.

The language is the ``lang`` cookie (set by the switch in the header), else
the first of Accept-Language's languages the console has, else English.
Clause texts and explanations stay as the policies and the engine wrote
them (Japanese): they are the contract's words, not the console's.
"""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("en", "ja")

_TEXT: dict[str, tuple[str, str]] = {
    # (English, Japanese)
    "app": ("Anshin console", "Anshin コンソール"),
    "skip": ("Skip to content", "本文へ移動"),
    "nav": ("Main", "メイン"),
    "search": ("Search", "検索"),
    "reviews": ("Review queue", "審査待ち"),
    "replay": ("Replay", "リプレイ"),
    "charts": ("Charts", "グラフ"),
    "login": ("Log in", "ログイン"),
    "logout": ("Log out", "ログアウト"),
    "signed_in_as": ("Signed in as", "ログイン中"),
    "language": ("Language", "言語"),
    "local_mode": (
        "Development mode: no auth config — everyone is anonymous (local) with every role.",
        "開発モード: 認証設定がありません。全員が anonymous (local) として全ロールを持ちます。",
    ),
    "token": ("Bearer token", "ベアラートークン"),
    "token_help": (
        "The same token your gRPC client uses (anshin auth new-token). It is checked once "
        "and never stored: the session cookie holds only who you are.",
        "gRPC クライアントと同じトークンです（anshin auth new-token）。確認に一度だけ使い、"
        "保存しません。セッション Cookie には利用者の識別だけが入ります。",
    ),
    "bad_token": ("Unknown or revoked token.", "トークンが無効です。"),
    "too_many": (
        "Too many failed logins from this address; wait a minute.",
        "ログイン失敗が多すぎます。1分待ってください。",
    ),
    "not_logged_in": ("Log in to continue.", "続けるにはログインしてください。"),
    "forbidden": ("Not allowed", "権限がありません"),
    "forbidden_text": (
        "Your role ({role}) may not open this page. It admits: {roles}.",
        "あなたのロール（{role}）ではこのページを開けません。許可されるロール: {roles}。",
    ),
    "forbidden_kind": (
        "Your role ({role}) may not read these entries. They are read by: {roles}.",
        "あなたのロール（{role}）ではこの記録を読めません。読めるロール: {roles}。",
    ),
    "refused": ("Refused", "拒否されました"),
    "filters": ("Filters", "絞り込み"),
    "customer": ("Customer", "顧客"),
    "policy": ("Policy", "約款"),
    "kind": ("Kind", "種別"),
    "outcome": ("Outcome", "結果"),
    "clause": ("Clause", "条項"),
    "any": ("any", "すべて"),
    "subject_since": ("Subject from", "対象日時（から）"),
    "subject_until": ("Subject until", "対象日時（まで）"),
    "recorded_since": ("Recorded from", "記録日時（から）"),
    "recorded_until": ("Recorded until", "記録日時（まで）"),
    "instant_help": (
        "ISO 8601 with its UTC offset, e.g. 2025-04-01T00:00:00+09:00",
        "UTC オフセット付き ISO 8601（例 2025-04-01T00:00:00+09:00）",
    ),
    "order": ("Order", "並び順"),
    "newest": ("Newest first", "新しい順"),
    "oldest": ("Oldest first", "古い順"),
    "page_size": ("Per page", "件数"),
    "apply": ("Search", "検索"),
    "next_page": ("Next page", "次のページ"),
    "first_page": ("First page", "最初のページ"),
    "no_entries": ("No entries match.", "該当する記録はありません。"),
    "seq": ("Seq", "番号"),
    "recorded": ("Recorded (JST)", "記録（JST）"),
    "subject": ("Subject (JST)", "対象（JST）"),
    "payable": ("Payable", "支払額"),
    "clauses": ("Clauses", "条項"),
    "id": ("Id", "ID"),
    "entries_shown": ("{n} entries on this page", "このページに {n} 件"),
    "decision": ("Decision", "判定"),
    "about": ("About", "概要"),
    "rules": ("Rules", "ルール"),
    "caller": ("Recorded by", "記録者"),
    "request": ("Request", "リクエスト"),
    "review_open": ("Review open: in the review queue.", "審査待ち（未解決）です。"),
    "resolve_it": ("Resolve it", "解決する"),
    "resolved_by": ("Resolved by entry", "解決済み: 記録"),
    "resolves": ("Resolves", "解決対象"),
    "summary": ("Summary", "要約"),
    "computation": ("Amount, step by step", "支払額の計算"),
    "step": ("Step", "段階"),
    "in": ("In", "入力"),
    "out": ("Out", "出力"),
    "note": ("Note", "備考"),
    "status": ("Status", "判定"),
    "effect": ("Effect", "効果"),
    "compared": ("Observed vs expected", "実際 vs 基準"),
    "clause_text": ("Clause text (Japanese)", "条項本文"),
    "explanation": ("Explanation", "説明"),
    "missing": ("Missing facts", "不足している事実"),
    "facts": ("Facts used", "使用した事実"),
    "postures": ("Login postures", "ログイン時の確認"),
    "events": ("Events", "イベント"),
    "ledger": ("Cap usage read", "上限の使用状況"),
    "decided_at": ("Decision instant", "判定時刻"),
    "inputs": ("Inputs as stored", "保存された入力"),
    "log_position": ("Log position", "ログ上の位置"),
    "hash": ("Entry hash", "エントリハッシュ"),
    "prev": ("Previous hash", "直前のハッシュ"),
    "proof": ("Inclusion proof", "包含証明"),
    "proof_pending": (
        "Pending: the entry is not under a signed checkpoint yet (signed within a second).",
        "保留: まだ署名済みチェックポイントに含まれていません（1秒以内に署名されます）。",
    ),
    "proof_ok": (
        "Leaf {leaf} of a signed tree of {size} entries; {n} audit-path hashes.",
        "署名済みツリー（{size} 件）の葉 {leaf}。監査パスのハッシュ {n} 個。",
    ),
    "checks": ("Posture checks", "確認項目"),
    "analyst": ("Analyst", "審査担当"),
    "reservations": ("Reservations", "上限の引当"),
    "queue_title": ("Open reviews, oldest first", "審査待ち（古い順）"),
    "age": ("Age", "経過"),
    "claimed": ("Claimed", "請求額"),
    "computed": ("Computed", "計算額"),
    "review_clauses": ("Asking for a human", "人の判断を求める条項"),
    "queue_empty": ("The review queue is empty.", "審査待ちはありません。"),
    "open_reviews": ("{n} open reviews on this page", "このページに審査待ち {n} 件"),
    "resolve": ("Resolve", "解決"),
    "resolution": ("Resolution", "解決内容"),
    "approve": ("Approve", "承認"),
    "deny": ("Deny", "否認"),
    "amount_yen": ("Amount (yen)", "金額（円）"),
    "deny_clauses": ("Clauses the denial rests on", "否認の根拠とする条項"),
    "as_analyst": ("Recorded as analyst: {who}", "審査担当として記録: {who}"),
    "submit_resolution": ("Record the resolution", "解決を記録する"),
    "already_resolved": ("Already resolved", "解決済みです"),
    "resolution_refused": ("Resolution refused", "解決は拒否されました"),
    "resolved_ok": ("Resolution recorded.", "解決を記録しました。"),
    "replay_title": ("Replay under a candidate rules directory", "候補ルールでのリプレイ"),
    "replay_help": (
        "Re-decides the logged claims of the period from their recorded facts; writes nothing. "
        "The directories are the ones the operator configured (--console-replay-rules).",
        "期間内に記録された請求判定を、記録された事実から候補ルールで再判定します（書き込みなし）。"
        "ディレクトリは運用者が設定したもの（--console-replay-rules）だけです。",
    ),
    "candidate": ("Candidate rules", "候補ルール"),
    "in_force": ("in force", "現行"),
    "run_replay": ("Run the replay", "リプレイを実行"),
    "replay_busy": (
        "A replay is running already; try again when it ends.",
        "別のリプレイを実行中です。終了後に再度お試しください。",
    ),
    "replayed": ("Replayed", "再判定"),
    "unchanged": ("Unchanged", "変化なし"),
    "changed": ("Changed", "変化あり"),
    "not_replayable": ("Not replayable", "再判定不可"),
    "delta": ("Δ payable", "支払額の差"),
    "by_policy": ("By policy", "約款別"),
    "by_clause": ("By clause", "条項別"),
    "newly_fired": ("Newly fired", "新たに該当"),
    "no_longer_fired": ("No longer fired", "該当しなくなった"),
    "changed_cases": ("Changed cases, side by side", "変化した案件（比較）"),
    "as_logged": ("As logged", "記録時"),
    "under_candidate": ("Under the candidate", "候補ルール"),
    "no_cascade": (
        "Each claim is replayed on the cap usage recorded at its decision (no cascade).",
        "各請求は判定時に記録された上限使用額で再判定します（連鎖なし）。",
    ),
    "first_n": ("first {n} of {total}", "{total} 件中 先頭 {n} 件"),
    "charts_title": ("Charts", "グラフ"),
    "window_days": ("Days recorded", "記録日数"),
    "show": ("Show", "表示"),
    "per_day": ("Outcomes per day, per policy", "約款別・日別の判定結果"),
    "top_clauses": ("Clauses deciding DENY / REVIEW most", "否認・要審査を決めた条項"),
    "queue_age": ("Review-queue age", "審査待ちの経過日数"),
    "caps": ("Payouts against each cap", "上限に対する支払"),
    "cap_help": (
        "Each cap scope's usage after the payouts in the window, as a share of its limit "
        "(the five most used per cap).",
        "期間内の支払後の上限使用率（上限ごとに使用率の高い5件）。",
    ),
    "chart_data": ("The data", "データ"),
    "no_data": ("No data in this window.", "この期間のデータはありません。"),
    "truncated": (
        "Only the newest {n} claim decisions of the window are counted.",
        "期間内の新しい {n} 件の判定のみ集計しています。",
    ),
    "scope": ("Scope", "スコープ"),
    "used": ("Used", "使用額"),
    "limit": ("Limit", "上限"),
    "count": ("Count", "件数"),
    "day": ("Day (JST)", "日（JST）"),
    "bad_request": ("Please correct the form", "入力内容を確認してください"),
    "not_found": ("Not found", "見つかりません"),
    "method_not_allowed": ("Method not allowed", "このメソッドは使えません"),
    "go_home": ("Back to the console", "コンソールに戻る"),
    "error": ("Error", "エラー"),
}


def pick(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGS:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        base = tag.split("-")[0]
        if base in LANGS:
            return base
    return "en"


def translator(lang: str) -> Callable[..., str]:
    index = 1 if lang == "ja" else 0

    def t(key: str, **values: object) -> str:
        text = _TEXT[key][index]
        return text.format(**values) if values else text

    return t
