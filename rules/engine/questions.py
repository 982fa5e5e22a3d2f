"""The Japanese question that asks the claimant for each claim field.

Documentation of the fields of ``rules.engine.model`` (one entry per field,
keyed by the field name, or ``incident.field`` where one name means different
things on different incidents); which fields a policy needs, and for which
clauses, comes from the policy files (``rules.engine.form``). Every field
has its question: the module refuses to load otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

from rules.engine.model import INCIDENT_FIELDS, TOP_LEVEL_FIELDS

__all__ = ["QUESTIONS_JA"]

QUESTIONS_JA: Mapping[str, str] = {
    # the claim
    "claimed_at": "保険金を請求した日時はいつですか。",
    "resident_in_japan": "被保険者（契約者）は日本国内に居住していますか。",
    "series_id": (
        "この請求は一連の事故（同じ原因から続いた複数の不正使用など）の一部ですか。"
        "そうなら、その一連の事故の請求すべてに共通の識別子を送ってください。"
    ),
    "customer_id": "契約者・会員・加入者の識別子は何ですか。",
    "claim_id": "この請求の識別子（UUID）は何ですか。",
    # shared names
    "fraud_at": "不正利用（被害）が発生した日時はいつですか。",
    "occurred_at": "事故が発生した日時はいつですか。",
    "used_in_japan": "不正利用は日本国内で行われましたか。",
    "issued_in_japan": "カードまたは銀行口座は日本国内で発行されたものですか。",
    "notified_at": "保険会社（事故受付・会員ページ）へ事故を通知した日時はいつですか。",
    "police_reported_at": "警察へ届け出た日時はいつですか。",
    "police_reported": "警察へ届け出ましたか（届出日時が分かればその日時を）。",
    "card_token": "被害にあったカードのトークンは何ですか（カード番号は送らないでください）。",
    "payment_service_id": "不正利用に使われた決済サービスは何ですか。",
    "instrument_token": "決済サービスに登録されたカード・口座のトークンは何ですか。",
    "funding": "チャージ元・引き落とし先は何ですか。",
    "payment_method": "決済手段は何ですか。",
    "kind": "事故の種類は何ですか。",
    # ib_transfer
    "notified_bank_at": "銀行へ不正利用を通知した日時はいつですか。",
    "police_consulted_at": "警察へ被害を相談した日時はいつですか。",
    "police_consulted": "警察へ被害を相談しましたか（相談日時が分かればその日時を）。",
    "alternative_measures_asserted": (
        "銀行が求めるセキュリティ対策を講じていない場合、それ以上の対策をとっていたと説明しますか。"
    ),
    "alternative_measures_note": "とっていた対策の説明は何ですか。",
    "token_compromised": (
        "トランザクション認証用トークンが偽造・盗難・紛失等により他人に使用されるおそれが"
        "生じましたか（他人に使用されたことを認知しましたか）。"
    ),
    "token_compromise_reported": "そのことを、すみやかに銀行へ通知しましたか。",
    # card_fraud
    "reported_to_issuer_at": "カード会社へ不正利用を報告（被害額を請求）した日時はいつですか。",
    "issuer_answer": "カード会社の回答（補償の有無とその理由）は何でしたか。",
    "card_in_hand": "不正利用の時点でカードは手元にありましたか。",
    "issuer_report_date_confirmable": "カード会社へ報告した日を確認できますか。",
    # qr_payment
    "operator_answer": "決済事業者の回答（不正使用の認定、補償の有無とその理由）は何でしたか。",
    "event_kind": (
        "どちらの事故ですか: DCM-E1（カード・口座を他人に不正登録された）、"
        "DCM-E2（端末やIDを盗まれた）。"
    ),
    # liability
    "incident_at": "事故（不正アクセス等）が発生した日時はいつですか。",
    "third_party_claim_at": "第三者から損害賠償請求を受けた日時はいつですか。",
    "written_claim": "損害賠償請求は書面によるものですか。",
    "claim_kind": "請求の種類は何ですか（業務の中断、情報の漏えい、その他）。",
    "cause_known_at": "原因を知った日時はいつですか。",
    "smartphone_accessed": "被保険者のスマートフォンへの不正アクセスがありましたか。",
    "claim_names_insured_smartphone": "請求は被保険者のスマートフォンに起因するものですか。",
    # skimming_phishing
    "negligence": "（旧形式）過失の区分コード。個々の事実で申告してください。",
    "pin_told_to_others": "他人に暗証番号を知らせましたか。",
    "pin_written_on_card": "暗証番号をキャッシュカード上に書き記していましたか。",
    "card_handed_to_others": "他人にキャッシュカードを渡しましたか。",
    "other_gross_negligence": "その他、これらと同程度の著しい注意義務違反がありましたか。",
    "other_negligence": (
        "その他、暗証番号・カードの管理について、上記の過失（推測されやすい暗証番号と書類の"
        "携行、暗証番号のメモとカードの携行、暗証番号とカードの管理の不備の重なり）と同程度の"
        "注意義務違反がありましたか。"
    ),
    "guessable_pin": (
        "生年月日、自宅の住所・地番・電話番号、勤務先の電話番号、自動車などのナンバーを"
        "暗証番号にしていましたか。"
    ),
    "kept_with_pin_revealing_document": (
        "カードを、暗証番号を推測させる書類等（免許証、健康保険証、パスポートなど）とともに"
        "携行・保管していましたか。"
    ),
    "pin_memo_kept_with_card": (
        "暗証番号を第三者が容易に認知できる形でメモなどに書き記し、キャッシュカードとともに"
        "携行・保管していましたか。"
    ),
    "pin_reused_elsewhere": (
        "暗証番号をロッカー、貴重品ボックス、携帯電話など通常の取引以外でも使用していましたか。"
    ),
    "card_left_exposed": (
        "カードを入れた財布などを自動車内など他人の目につきやすい場所に放置するなど、"
        "第三者に容易に奪われる状態においていましたか。"
    ),
    "card_easily_taken_while_incapacitated": (
        "酩てい等により通常の注意義務を果たせず、キャッシュカードを容易に他人に奪われる"
        "状況においていましたか。"
    ),
    "skimming_phishing.kind": "被害の種類は何ですか（フィッシング、スキミング、不正な申込み）。",
    # legal_cost
    "legal_cost.kind": "費用の種類は何ですか（法律相談費用、弁護士等費用）。",
    "incurred_at": "法律相談・弁護士等への委任の費用が発生した日時はいつですか。",
    "cause_at": "トラブルの原因が発生した日時はいつですか。",
    "insured_person_ref": "被保険者は誰ですか（氏名ではなく識別子）。",
    "success_prospect_found": "弁護士等は勝訴（委任の目的の達成）の見込みがあると判断しましたか。",
    "clearly_no_prospect": (
        "弁護士等に委任して法的解決を図ったとしても、勝訴の見込みまたは委任の目的を達成する"
        "見込みのないことが明らかですか。"
    ),
    "through_internet": (
        "トラブルはインターネットを通じて生じた事由（データの流出、誹謗中傷、権利侵害、"
        "不正アクセス、ネット上の詐欺など）に起因して、他人との間に発生したものですか。"
    ),
    "insured_is_subscriber": "被保険者はサービス加入者本人ですか。",
    "relative_degree": "被保険者はサービス加入者の何親等の親族ですか（配偶者は0）。",
    "lives_with_subscriber": "被保険者はサービス加入者と同居していますか。",
    "shares_livelihood": "被保険者はサービス加入者と生計を同一にしていますか。",
    "is_child": "被保険者はサービス加入者の子ですか。",
    "unmarried": "被保険者は未婚ですか。",
}


def _every_field_asked() -> None:
    missing = [
        f"{incident}.{name}"
        for incident, names in INCIDENT_FIELDS.items()
        for name in names
        if f"{incident}.{name}" not in QUESTIONS_JA and name not in QUESTIONS_JA
    ] + [name for name in TOP_LEVEL_FIELDS if name not in QUESTIONS_JA]
    if missing:
        raise RuntimeError(f"claim fields without a question: {', '.join(missing)}")


_every_field_asked()
