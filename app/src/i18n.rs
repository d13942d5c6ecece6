//! Korean and English: the texts of every page, and locale formatting of dates and won.
//!
//! Texts are one struct per language, so a missing translation is a compile error rather than a
//! blank on the page. Times are shown in Korea Standard Time (UTC+9, no daylight saving): the
//! shop's campaigns open and close on Korean clocks, whatever the viewer's language.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Lang {
    /// 한국어 — the default: the first users are Korean.
    #[default]
    Ko,
    /// English.
    En,
}

/// The cookie that remembers a visitor's choice.
pub const LANG_COOKIE: &str = "lang";

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Ko => "ko",
            Self::En => "en",
        }
    }

    /// The language with this tag (`ko`, `en`, `en-US`, …), if supported.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ko" => Some(Self::Ko),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// Picks a language: the remembered choice first, then the browser's preferences in order
    /// (ignoring quality weights beyond their order), then Korean.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Self {
        if let Some(lang) = cookie.and_then(Self::from_tag) {
            return lang;
        }
        accept_language
            .into_iter()
            .flat_map(|header| header.split(','))
            .filter_map(|item| Self::from_tag(item.split(';').next().unwrap_or_default()))
            .next()
            .unwrap_or_default()
    }

    /// The texts of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Self::Ko => &KO,
            Self::En => &EN,
        }
    }
}

/// Korea Standard Time.
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// English month abbreviations, January first.
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

// The formats below are written out field by field rather than with chrono's `format`: its
// format-string machinery (and `parse_from_str`'s) is a good part of chrono's weight in the
// wasm bundle, and these few fixed shapes do not need it.

/// A date and time in KST, in the language's usual form.
pub fn format_datetime(lang: Lang, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&kst());
    let (year, month, day) = (local.year(), local.month(), local.day());
    let (hour, minute) = (local.hour(), local.minute());
    match lang {
        Lang::Ko => format!("{year}년 {month}월 {day}일 {hour:02}:{minute:02}"),
        Lang::En => {
            let name = MONTHS_EN[local.month0() as usize];
            format!("{name} {day}, {year}, {hour:02}:{minute:02} KST")
        }
    }
}

/// A date and time in KST to the second, for the audit log (several actions may share a
/// minute).
pub fn format_instant(lang: Lang, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&kst());
    let (year, month, day) = (local.year(), local.month(), local.day());
    let (hour, minute, second) = (local.hour(), local.minute(), local.second());
    match lang {
        Lang::Ko => format!("{year}년 {month}월 {day}일 {hour:02}:{minute:02}:{second:02}"),
        Lang::En => {
            let name = MONTHS_EN[local.month0() as usize];
            format!("{name} {day}, {year}, {hour:02}:{minute:02}:{second:02} KST")
        }
    }
}

/// A time of day in KST with seconds, for "last synced at".
pub fn format_time(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&kst());
    format!(
        "{:02}:{:02}:{:02}",
        local.hour(),
        local.minute(),
        local.second()
    )
}

/// The value of a `datetime-local` input for this instant, in KST.
pub fn to_input_value(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&kst());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// Reads a `datetime-local` input value (`YYYY-MM-DDTHH:MM`, optionally `:SS`) as KST; `None`
/// if it is not a date and time.
pub fn from_input_value(value: &str) -> Option<DateTime<Utc>> {
    let (date, time) = value.trim().split_once('T')?;
    let mut date = date.split('-');
    let year = whole_number(date.next()?, 4)?;
    let month = whole_number(date.next()?, 2)?;
    let day = whole_number(date.next()?, 2)?;
    let mut time = time.split(':');
    let hour = whole_number(time.next()?, 2)?;
    let minute = whole_number(time.next()?, 2)?;
    let second = time.next().map_or(Some(0), |s| whole_number(s, 2))?;
    if date.next().is_some() || time.next().is_some() {
        return None;
    }
    let naive = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_opt(hour, minute, second)?;
    kst()
        .from_local_datetime(&naive)
        .single()
        .map(|at| at.with_timezone(&Utc))
}

/// Exactly `digits` ASCII digits.
fn whole_number(text: &str, digits: usize) -> Option<u32> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A whole number with thousands separators: 12,345.
pub fn format_count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Milliseconds as seconds with one decimal, rounded down: 1234 → "1.2". Integer arithmetic
/// on purpose: formatting a float would pull the float printer into the wasm bundle.
pub fn format_seconds_tenths(ms: i64) -> String {
    let tenths = ms.max(0) / 100;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// `part` of `whole` as a percentage with one decimal, rounded down: (1, 3) → "33.3%"; "–"
/// of nothing. Integer arithmetic, as in `format_seconds_tenths`.
pub fn format_rate(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "–".into();
    }
    let tenths = i128::from(part.max(0)) * 1000 / i128::from(whole);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// An amount of won: "3,000원" in Korean, "₩3,000" in English.
pub fn format_won(lang: Lang, amount: i64) -> String {
    match lang {
        Lang::Ko => format!("{}원", format_count(amount)),
        Lang::En => format!("₩{}", format_count(amount)),
    }
}

/// What a coupon takes off, e.g. "3,000원 할인" / "10% off".
pub fn format_discount(lang: Lang, kind: &str, amount: i64) -> String {
    let t = lang.texts();
    if kind == "percentage" {
        format!("{amount}% {}", t.off)
    } else {
        format!("{} {}", format_won(lang, amount), t.off)
    }
}

/// How long a coupon stays usable: "유효 기간 30일" / "valid for 30 days".
pub fn format_validity(lang: Lang, days: i32) -> String {
    match lang {
        Lang::Ko => format!("유효 기간 {days}일"),
        Lang::En => format!("valid for {days} days"),
    }
}

/// Time left, never negative: "04:05", "1:02:03", and with days "2일 01:02:03" / "2d 01:02:03".
pub fn format_countdown(lang: Lang, seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours) = (seconds / 86_400, seconds / 3600 % 24);
    let (minutes, seconds) = (seconds / 60 % 60, seconds % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes:02}:{seconds:02}"),
        (0, _) => format!("{hours}:{minutes:02}:{seconds:02}"),
        _ => match lang {
            Lang::Ko => format!("{days}일 {hours:02}:{minutes:02}:{seconds:02}"),
            Lang::En => format!("{days}d {hours:02}:{minutes:02}:{seconds:02}"),
        },
    }
}

/// The question a sign-in link for `next` asks while `current` is signed in on the browser:
/// "You are signed in as A. Continue as B?". The ids are put in as given (the caller escapes
/// them for HTML).
pub fn format_switch_question(lang: Lang, current: &str, next: &str) -> String {
    match lang {
        Lang::Ko => format!(
            "이 브라우저에는 {current} 님이 로그인되어 있습니다. {next} 님으로 바꿔서 계속할까요?"
        ),
        Lang::En => format!("You are signed in as {current}. Continue as {next}?"),
    }
}

/// The button that switches to the link's member: "B 님으로 계속" / "Continue as B".
pub fn format_continue_as(lang: Lang, next: &str) -> String {
    match lang {
        Lang::Ko => format!("{next} 님으로 계속"),
        Lang::En => format!("Continue as {next}"),
    }
}

/// The link that keeps the member signed in: "A 님으로 유지" / "Stay as A".
pub fn format_stay_as(lang: Lang, current: &str) -> String {
    match lang {
        Lang::Ko => format!("{current} 님으로 유지"),
        Lang::En => format!("Stay as {current}"),
    }
}

/// Every text shown on the pages, in one language.
pub struct Texts {
    pub app_name: &'static str,
    pub tagline: &'static str,
    pub open_campaigns: &'static str,
    pub no_open_campaigns: &'static str,
    pub admin: &'static str,
    pub language: &'static str,
    pub off: &'static str,
    // sign-in
    pub admin_sign_in: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub wrong_credentials: &'static str,
    pub sign_in_required: &'static str,
    // campaign list
    pub campaigns: &'static str,
    pub new_campaign: &'static str,
    pub no_campaigns: &'static str,
    pub name: &'static str,
    pub status: &'static str,
    pub quantity: &'static str,
    pub remaining: &'static str,
    pub claimed: &'static str,
    pub synced: &'static str,
    pub waiting: &'static str,
    pub sync_state: &'static str,
    pub sync_ok: &'static str,
    pub sync_failing: &'static str,
    pub active: &'static str,
    pub paused: &'static str,
    pub ended: &'static str,
    // create form
    pub discount_kind: &'static str,
    pub fixed_amount: &'static str,
    pub percentage: &'static str,
    pub discount_amount: &'static str,
    pub claim_starts_at: &'static str,
    pub claim_ends_at: &'static str,
    pub valid_days: &'static str,
    pub create: &'static str,
    pub times_in_kst: &'static str,
    pub not_a_datetime: &'static str,
    pub min_order_amount: &'static str,
    pub max_discount_amount: &'static str,
    pub optional_hint: &'static str,
    pub entries_open_at: &'static str,
    pub fair_draw_hint: &'static str,
    pub redeemed: &'static str,
    pub held: &'static str,
    pub expired: &'static str,
    pub available: &'static str,
    pub released: &'static str,
    pub redemption_rate: &'static str,
    pub discount_granted: &'static str,
    pub coupon_search: &'static str,
    pub code_or_member: &'static str,
    pub search: &'static str,
    pub nothing_found: &'static str,
    pub history: &'static str,
    pub used_on: &'static str,
    pub order: &'static str,
    pub previous_page: &'static str,
    pub next_page: &'static str,
    pub all_statuses: &'static str,
    pub filter: &'static str,
    // campaign page
    pub claim_window: &'static str,
    pub oldest_waiting: &'static str,
    pub last_sync: &'static str,
    pub never: &'static str,
    pub sync_error: &'static str,
    /// Shown while replicated acknowledgments cannot be given (every claim hears "try again").
    pub replicas_missing: &'static str,
    pub redis_node: &'static str,
    pub claims_per_second: &'static str,
    pub live: &'static str,
    pub reconnecting: &'static str,
    pub pause: &'static str,
    pub resume: &'static str,
    pub end_campaign: &'static str,
    pub end_cannot_be_undone: &'static str,
    pub change_quantity: &'static str,
    pub apply: &'static str,
    pub export_csv: &'static str,
    pub claim_page: &'static str,
    pub seconds_short: &'static str,
    pub not_found: &'static str,
    // claim page
    pub claim: &'static str,
    pub claiming: &'static str,
    pub member_id: &'static str,
    pub member_sign_in_hint: &'static str,
    pub member_from_shop: &'static str,
    pub continue_label: &'static str,
    pub signed_in_as: &'static str,
    pub your_coupon: &'static str,
    pub use_it_within: &'static str,
    pub already_claimed: &'static str,
    pub sold_out: &'static str,
    pub not_open_yet: &'static str,
    pub opens_at: &'static str,
    pub campaign_ended: &'static str,
    pub campaign_paused: &'static str,
    /// A fair draw's entry was recorded; followed by the time of the draw.
    pub entered_draw: &'static str,
    /// The member entered a fair draw and was not drawn.
    pub not_drawn: &'static str,
    // a fair draw's line on the claim page
    /// The claim button while a fair draw takes entries.
    pub enter_draw: &'static str,
    pub entering: &'static str,
    /// Followed by a countdown.
    pub entries_open_in: &'static str,
    /// Followed by a countdown.
    pub draw_in: &'static str,
    pub you_are_entered: &'static str,
    /// Followed by the number of entrants so far.
    pub entered_so_far: &'static str,
    pub drawing_now: &'static str,
    pub you_were_drawn: &'static str,
    pub fair_draw: &'static str,
    pub fair_draw_explained: &'static str,
    pub draw_commitment: &'static str,
    pub draw_secret: &'static str,
    pub draw_cutoff: &'static str,
    pub your_digest: &'static str,
    /// Opens the check README.md documents ("Fair draws"), filled in with this draw's values.
    pub how_to_check: &'static str,
    /// The admin page's count of a fair draw's entrants.
    pub entrants: &'static str,
    pub try_again: &'static str,
    pub left: &'static str,
    // a sign-in link for another member than the one signed in
    pub switch_member_title: &'static str,
    /// Why staying is the safe answer: the link may come from another site.
    pub switch_member_note: &'static str,
    // a completed fair draw's fairness report (admin campaign page)
    pub fairness: &'static str,
    pub fairness_entrants: &'static str,
    pub fairness_drawn: &'static str,
    pub fairness_not_drawn: &'static str,
    pub fairness_commitment: &'static str,
    pub fairness_secret: &'static str,
    pub fairness_cutoff: &'static str,
    pub fairness_ks: &'static str,
    /// One line: what the distance says.
    pub fairness_ks_explained: &'static str,
    /// Followed by the bound a fair draw's distance stays below nineteen times in twenty.
    pub fairness_ks_bound: &'static str,
    pub fairness_chart: &'static str,
    pub fairness_all_entrants: &'static str,
    pub fairness_refused_rate_limited: &'static str,
    pub fairness_refused_bot_check: &'static str,
    pub fairness_bot_check_off: &'static str,
    pub fairness_export_csv: &'static str,
    // the bot check (admin form, claim page)
    pub bot_check: &'static str,
    pub bot_check_off: &'static str,
    pub bot_check_about_1s: &'static str,
    pub bot_check_about_3s: &'static str,
    pub bot_check_hint: &'static str,
    /// Shown without JavaScript when the campaign has a bot check; no `<` or `&` (it is HTML).
    pub bot_check_needs_js: &'static str,
    pub bot_check_running: &'static str,
    pub bot_check_refused: &'static str,
    pub bot_check_expired: &'static str,
    // the audit log (/admin/audit)
    pub audit_log: &'static str,
    pub audit_when: &'static str,
    pub audit_actor: &'static str,
    pub audit_address: &'static str,
    pub audit_action: &'static str,
    pub audit_campaign: &'static str,
    pub audit_before: &'static str,
    pub audit_after: &'static str,
    pub audit_all_actions: &'static str,
    /// The actor filter's placeholder: an admin's email or `api`.
    pub audit_actor_hint: &'static str,
    pub audit_campaign_hint: &'static str,
    pub audit_nothing: &'static str,
    pub audit_newest: &'static str,
    pub audit_older: &'static str,
    pub audit_campaign_created: &'static str,
    pub audit_campaign_paused: &'static str,
    pub audit_campaign_resumed: &'static str,
    pub audit_campaign_ended: &'static str,
    pub audit_quantity_changed: &'static str,
    pub audit_signed_in: &'static str,
    pub audit_sign_in_failed: &'static str,
    pub audit_export_downloaded: &'static str,
}

const KO: Texts = Texts {
    app_name: "선착순 쿠폰",
    tagline: "먼저 받는 사람이 임자! 수량이 다 떨어지기 전에 받아 가세요.",
    open_campaigns: "진행 중인 쿠폰",
    no_open_campaigns: "지금 진행 중인 쿠폰이 없습니다.",
    admin: "관리자",
    language: "언어",
    off: "할인",
    admin_sign_in: "관리자 로그인",
    email: "이메일",
    password: "비밀번호",
    sign_in: "로그인",
    sign_out: "로그아웃",
    wrong_credentials: "이메일 또는 비밀번호가 올바르지 않습니다.",
    sign_in_required: "관리자 로그인이 필요합니다.",
    campaigns: "캠페인",
    new_campaign: "새 캠페인",
    no_campaigns: "아직 캠페인이 없습니다.",
    name: "이름",
    status: "상태",
    quantity: "수량",
    remaining: "남은 수량",
    claimed: "발급",
    synced: "DB 저장",
    waiting: "대기열",
    sync_state: "동기화",
    sync_ok: "정상",
    sync_failing: "오류",
    active: "진행 중",
    paused: "일시 중지",
    ended: "종료",
    discount_kind: "할인 방식",
    fixed_amount: "정액 (원)",
    percentage: "정률 (%)",
    discount_amount: "할인 금액",
    claim_starts_at: "발급 시작",
    claim_ends_at: "발급 종료",
    valid_days: "쿠폰 유효 기간 (일)",
    create: "만들기",
    times_in_kst: "시간은 한국 표준시(KST) 기준입니다.",
    not_a_datetime: "날짜와 시간을 입력하세요",
    min_order_amount: "최소 주문 금액 (원)",
    max_discount_amount: "최대 할인 금액 (원, 정률만)",
    optional_hint: "비워 두면 제한 없음",
    entries_open_at: "추첨 응모 시작",
    fair_draw_hint: "비워 두면 선착순. 입력하면 이때부터 발급 시작까지 응모를 받아 발급 시작 시각에 공정하게 추첨합니다",
    redeemed: "사용됨",
    held: "보류 중",
    expired: "만료됨",
    available: "사용 가능",
    released: "반환됨",
    redemption_rate: "사용률",
    discount_granted: "할인 총액",
    coupon_search: "쿠폰 찾기",
    code_or_member: "쿠폰 코드 또는 회원 ID",
    search: "찾기",
    nothing_found: "찾은 쿠폰이 없습니다.",
    history: "이력",
    used_on: "사용일",
    order: "주문",
    previous_page: "이전",
    next_page: "다음",
    all_statuses: "모든 상태",
    filter: "필터",
    claim_window: "발급 기간",
    oldest_waiting: "가장 오래 기다린 항목",
    last_sync: "마지막 동기화",
    never: "없음",
    sync_error: "동기화 오류",
    replicas_missing: "복제본 부족으로 발급을 멈췄습니다",
    redis_node: "Redis 노드",
    claims_per_second: "초당 발급 (최근 5분)",
    live: "실시간",
    reconnecting: "연결이 끊겼습니다. 다시 연결하는 중…",
    pause: "일시 중지",
    resume: "재개",
    end_campaign: "종료하기",
    end_cannot_be_undone: "종료하면 되돌릴 수 없습니다. 이 캠페인에서는 더 이상 쿠폰을 받을 수 없습니다. 종료할까요?",
    change_quantity: "수량 변경",
    apply: "적용",
    export_csv: "CSV 내보내기",
    claim_page: "발급 페이지",
    seconds_short: "초",
    not_found: "찾을 수 없는 페이지입니다.",
    claim: "쿠폰 받기",
    claiming: "받는 중…",
    member_id: "회원 ID",
    member_sign_in_hint: "쿠폰을 받으려면 회원 ID로 로그인하세요.",
    member_from_shop: "쇼핑몰에서 받은 쿠폰 링크로 이 페이지를 열면 쿠폰을 받을 수 있습니다.",
    continue_label: "계속",
    signed_in_as: "로그인:",
    your_coupon: "쿠폰이 발급되었습니다",
    use_it_within: "사용 기한",
    already_claimed: "이미 받은 쿠폰입니다.",
    sold_out: "쿠폰이 모두 소진되었습니다.",
    not_open_yet: "아직 발급 전입니다.",
    opens_at: "발급 시작:",
    campaign_ended: "발급이 종료되었습니다.",
    campaign_paused: "발급이 잠시 중지되었습니다.",
    entered_draw: "추첨에 응모되었습니다. 추첨 시각:",
    not_drawn: "아쉽게도 추첨되지 않았습니다.",
    enter_draw: "추첨 응모하기",
    entering: "응모 중…",
    entries_open_in: "응모 시작까지",
    draw_in: "추첨까지",
    you_are_entered: "응모되었습니다",
    entered_so_far: "지금까지 응모한 회원",
    drawing_now: "추첨 중입니다…",
    you_were_drawn: "축하합니다! 추첨에 당첨되었습니다",
    fair_draw: "공정 추첨",
    fair_draw_explained: "응모를 받기 전에 추첨 순서를 정하는 비밀값의 해시를 공개했습니다. 추첨이 끝나면 비밀값을 공개하므로 누구나 결과를 확인할 수 있습니다.",
    draw_commitment: "약속값 (비밀값의 SHA-256)",
    draw_secret: "공개된 비밀값",
    draw_cutoff: "당첨 기준값 (마지막 당첨자의 순번값)",
    your_digest: "내 순번값",
    how_to_check: "직접 확인하는 방법 (README의 “Fair draws”)",
    entrants: "응모자",
    try_again: "잠시 후 다시 시도해 주세요.",
    left: "남음",
    switch_member_title: "다른 회원으로 바꿀까요?",
    switch_member_note: "이 링크를 직접 열지 않았다면 지금 회원으로 유지하세요. 다른 사이트가 보낸 링크일 수 있습니다.",
    fairness: "추첨 공정성",
    fairness_entrants: "응모자",
    fairness_drawn: "당첨",
    fairness_not_drawn: "미당첨",
    fairness_commitment: "사전 공개 해시 (응모 전 공개된 비밀 값의 SHA-256)",
    fairness_secret: "공개된 비밀 값",
    fairness_cutoff: "당첨 기준 값 (마지막 당첨자의 다이제스트)",
    fairness_ks: "응모 시각 분포 차이 (KS 거리)",
    fairness_ks_explained: "공정한 추첨이라면 당첨자의 응모 시각은 전체 응모자와 같은 모양으로 분포합니다. 0에 가까울수록 같은 모양입니다.",
    fairness_ks_bound: "공정한 추첨에서 20번 중 19번은 이 값 아래:",
    fairness_chart: "응모 시각 분포 (각 집단 안의 비율)",
    fairness_all_entrants: "전체 응모자",
    fairness_refused_rate_limited: "요청 제한으로 거절된 응모",
    fairness_refused_bot_check: "봇 검사로 거절된 응모",
    fairness_bot_check_off: "봇 검사 꺼짐",
    fairness_export_csv: "공정성 보고서 CSV",
    bot_check: "봇 검사",
    bot_check_off: "끄기",
    bot_check_about_1s: "휴대폰에서 약 1초",
    bot_check_about_3s: "휴대폰에서 약 3초",
    bot_check_hint: "웹에서 받기 전에 브라우저가 짧은 계산 문제를 풉니다. 쇼핑몰 백엔드의 JSON API는 검사하지 않습니다.",
    bot_check_needs_js: "이 쿠폰은 자동 신청을 막기 위해 브라우저에서 짧은 계산(봇 검사)을 합니다. 받으려면 JavaScript를 켜 주세요.",
    bot_check_running: "봇 검사 중… 잠시만 기다려 주세요.",
    bot_check_refused: "봇 검사를 통과하지 못했습니다. 다시 시도해 주세요.",
    bot_check_expired: "봇 검사 시간이 지났습니다. 다시 시도해 주세요.",
    audit_log: "감사 로그",
    audit_when: "시각",
    audit_actor: "누가",
    audit_address: "접속 주소",
    audit_action: "작업",
    audit_campaign: "캠페인",
    audit_before: "변경 전",
    audit_after: "변경 후",
    audit_all_actions: "모든 작업",
    audit_actor_hint: "관리자 이메일 또는 api",
    audit_campaign_hint: "캠페인 ID",
    audit_nothing: "기록이 없습니다.",
    audit_newest: "최신 기록",
    audit_older: "이전 기록",
    audit_campaign_created: "캠페인 생성",
    audit_campaign_paused: "일시 중지",
    audit_campaign_resumed: "재개",
    audit_campaign_ended: "종료",
    audit_quantity_changed: "수량 변경",
    audit_signed_in: "로그인",
    audit_sign_in_failed: "로그인 실패",
    audit_export_downloaded: "내보내기 다운로드",
};

const EN: Texts = Texts {
    app_name: "First-come coupons",
    tagline: "First come, first served: claim yours before they run out.",
    open_campaigns: "Open campaigns",
    no_open_campaigns: "No campaign is open right now.",
    admin: "Admin",
    language: "Language",
    off: "off",
    admin_sign_in: "Admin sign-in",
    email: "Email",
    password: "Password",
    sign_in: "Sign in",
    sign_out: "Sign out",
    wrong_credentials: "Wrong email or password.",
    sign_in_required: "Please sign in as an admin.",
    campaigns: "Campaigns",
    new_campaign: "New campaign",
    no_campaigns: "No campaigns yet.",
    name: "Name",
    status: "Status",
    quantity: "Quantity",
    remaining: "Remaining",
    claimed: "Claimed",
    synced: "Synced",
    waiting: "Waiting",
    sync_state: "Sync",
    sync_ok: "OK",
    sync_failing: "Failing",
    active: "Active",
    paused: "Paused",
    ended: "Ended",
    discount_kind: "Discount kind",
    fixed_amount: "Fixed amount (won)",
    percentage: "Percentage (%)",
    discount_amount: "Discount amount",
    claim_starts_at: "Claims open",
    claim_ends_at: "Claims close",
    valid_days: "Coupon valid for (days)",
    create: "Create",
    times_in_kst: "Times are Korea Standard Time (KST).",
    not_a_datetime: "enter a date and time",
    min_order_amount: "Minimum order (won)",
    max_discount_amount: "Discount cap (won, percentage only)",
    optional_hint: "Leave empty for none",
    entries_open_at: "Draw entries open",
    fair_draw_hint: "Leave empty for first come, first served. Set: members enter from then until claims open, and a fair draw decides at that moment",
    redeemed: "Redeemed",
    held: "Held",
    expired: "Expired",
    available: "Available",
    released: "Released",
    redemption_rate: "Redemption rate",
    discount_granted: "Discount granted",
    coupon_search: "Find a coupon",
    code_or_member: "Coupon code or member ID",
    search: "Search",
    nothing_found: "No coupon found.",
    history: "History",
    used_on: "Used on",
    order: "Order",
    previous_page: "Previous",
    next_page: "Next",
    all_statuses: "All statuses",
    filter: "Filter",
    claim_window: "Claim window",
    oldest_waiting: "Oldest waiting item",
    last_sync: "Last sync",
    never: "never",
    sync_error: "Sync error",
    replicas_missing: "Claims are refused until enough Redis replicas are connected",
    redis_node: "Redis node",
    claims_per_second: "Claims per second (last 5 min)",
    live: "Live",
    reconnecting: "Connection lost. Reconnecting…",
    pause: "Pause",
    resume: "Resume",
    end_campaign: "End campaign",
    end_cannot_be_undone: "Ending cannot be undone: nobody will be able to claim from this campaign again. End it?",
    change_quantity: "Change quantity",
    apply: "Apply",
    export_csv: "Export CSV",
    claim_page: "Claim page",
    seconds_short: "s",
    not_found: "Page not found.",
    claim: "Claim",
    claiming: "Claiming…",
    member_id: "Member ID",
    member_sign_in_hint: "Sign in with your member ID to claim a coupon.",
    member_from_shop: "Open this page from the coupon link the shop gave you to claim a coupon.",
    continue_label: "Continue",
    signed_in_as: "Signed in as",
    your_coupon: "Your coupon",
    use_it_within: "Use it by",
    already_claimed: "You already claimed this coupon.",
    sold_out: "Sold out: every coupon has been claimed.",
    not_open_yet: "Not open yet.",
    opens_at: "Opens",
    campaign_ended: "This campaign has ended.",
    campaign_paused: "This campaign is paused.",
    entered_draw: "You are in the draw. It takes place",
    not_drawn: "You were not drawn this time.",
    enter_draw: "Enter the draw",
    entering: "Entering…",
    entries_open_in: "Entries open in",
    draw_in: "Draw in",
    you_are_entered: "You are entered",
    entered_so_far: "Entered so far",
    drawing_now: "Drawing…",
    you_were_drawn: "You were drawn!",
    fair_draw: "Fair draw",
    fair_draw_explained: "The draw's order was committed to before anyone entered: the SHA-256 of its secret is below. Once the draw is done the secret is revealed, so anyone can check the result.",
    draw_commitment: "Commitment (SHA-256 of the secret)",
    draw_secret: "Revealed secret",
    draw_cutoff: "Cutoff (the last winner's digest)",
    your_digest: "Your digest",
    how_to_check: "How to check it (README, “Fair draws”)",
    entrants: "Entrants",
    try_again: "Please try again in a moment.",
    left: "left",
    switch_member_title: "Switch member?",
    switch_member_note: "If you did not open this link yourself, stay as you are: another site may have sent it.",
    fairness: "Fairness",
    fairness_entrants: "Entrants",
    fairness_drawn: "Drawn",
    fairness_not_drawn: "Not drawn",
    fairness_commitment: "Commitment (SHA-256 of the secret, published before entries opened)",
    fairness_secret: "Revealed secret",
    fairness_cutoff: "Cutoff (the last winner's digest)",
    fairness_ks: "Entry-time difference (KS distance)",
    fairness_ks_explained: "In a fair draw winners' entry times have the same shape as everyone's: the closer to 0, the closer the shapes.",
    fairness_ks_bound: "A fair draw stays below this 19 times in 20:",
    fairness_chart: "Entry times (share of each group)",
    fairness_all_entrants: "All entrants",
    fairness_refused_rate_limited: "Entries refused by rate limits",
    fairness_refused_bot_check: "Entries refused by the bot check",
    fairness_bot_check_off: "bot check off",
    fairness_export_csv: "Fairness CSV",
    bot_check: "Bot check",
    bot_check_off: "Off",
    bot_check_about_1s: "About 1 s on a phone",
    bot_check_about_3s: "About 3 s on a phone",
    bot_check_hint: "Before a web claim the browser solves a short computation puzzle. The JSON API of shop backends is exempt.",
    bot_check_needs_js: "This campaign checks for bots with a short computation in your browser. Turn JavaScript on to claim.",
    bot_check_running: "Checking for bots… one moment.",
    bot_check_refused: "The bot check did not pass. Please try again.",
    bot_check_expired: "The bot check took too long. Please try again.",
    audit_log: "Audit log",
    audit_when: "When",
    audit_actor: "Who",
    audit_address: "Address",
    audit_action: "Action",
    audit_campaign: "Campaign",
    audit_before: "Before",
    audit_after: "After",
    audit_all_actions: "All actions",
    audit_actor_hint: "Admin email or api",
    audit_campaign_hint: "Campaign ID",
    audit_nothing: "No entries.",
    audit_newest: "Newest",
    audit_older: "Older",
    audit_campaign_created: "Campaign created",
    audit_campaign_paused: "Paused",
    audit_campaign_resumed: "Resumed",
    audit_campaign_ended: "Ended",
    audit_quantity_changed: "Quantity changed",
    audit_signed_in: "Signed in",
    audit_sign_in_failed: "Sign-in failed",
    audit_export_downloaded: "Export downloaded",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_have_one_decimal_without_floats() {
        assert_eq!(format_seconds_tenths(0), "0.0");
        assert_eq!(format_seconds_tenths(1234), "1.2");
        assert_eq!(format_seconds_tenths(60_099), "60.0");
        assert_eq!(format_seconds_tenths(-5), "0.0");
    }

    #[test]
    fn rates_have_one_decimal_rounded_down() {
        assert_eq!(format_rate(1, 3), "33.3%");
        assert_eq!(format_rate(2, 3), "66.6%");
        assert_eq!(format_rate(5, 5), "100.0%");
        assert_eq!(format_rate(0, 0), "–");
    }

    #[test]
    fn a_remembered_choice_wins_over_the_browser() {
        assert_eq!(
            Lang::negotiate(Some("en"), Some("ko-KR,ko;q=0.9")),
            Lang::En
        );
    }

    #[test]
    fn the_browser_order_picks_the_first_supported_language() {
        assert_eq!(
            Lang::negotiate(None, Some("fr-FR,en-US;q=0.8,ko;q=0.5")),
            Lang::En
        );
        assert_eq!(Lang::negotiate(None, Some("de")), Lang::Ko);
        assert_eq!(Lang::negotiate(Some("xx"), None), Lang::Ko);
    }

    #[test]
    fn countdowns_grow_hours_and_days_only_when_needed() {
        assert_eq!(format_countdown(Lang::En, 65), "01:05");
        assert_eq!(format_countdown(Lang::En, -3), "00:00");
        assert_eq!(format_countdown(Lang::En, 3 * 3600 + 62), "3:01:02");
        assert_eq!(
            format_countdown(Lang::Ko, 2 * 86_400 + 3600),
            "2일 01:00:00"
        );
        assert_eq!(format_countdown(Lang::En, 86_400), "1d 00:00:00");
    }

    #[test]
    fn won_and_counts_are_grouped_by_thousands() {
        assert_eq!(format_won(Lang::Ko, 3000), "3,000원");
        assert_eq!(format_won(Lang::En, 1_234_567), "₩1,234,567");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(-1000), "-1,000");
    }

    #[test]
    fn times_are_shown_and_read_in_kst() {
        let at = DateTime::parse_from_rfc3339("2026-11-27T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_datetime(Lang::Ko, at), "2026년 11월 27일 10:00");
        assert_eq!(format_datetime(Lang::En, at), "Nov 27, 2026, 10:00 KST");
        assert_eq!(to_input_value(at), "2026-11-27T10:00");
        assert_eq!(from_input_value("2026-11-27T10:00"), Some(at));
        assert_eq!(
            from_input_value("2026-11-27T10:00:30"),
            Some(at + chrono::Duration::seconds(30))
        );
        assert_eq!(format_time(at), "10:00:00");
        let later = at + chrono::Duration::seconds(5);
        assert_eq!(format_instant(Lang::Ko, later), "2026년 11월 27일 10:00:05");
        assert_eq!(
            format_instant(Lang::En, later),
            "Nov 27, 2026, 10:00:05 KST"
        );
        for bad in [
            "tomorrow",
            "2026-11-27",
            "2026-13-01T10:00",
            "2026-11-27T24:00",
            "2026-1-27T10:00",
            "2026-11-27T10:00:00:00",
            "+026-11-27T10:00",
        ] {
            assert_eq!(from_input_value(bad), None, "{bad}");
        }
    }
}
