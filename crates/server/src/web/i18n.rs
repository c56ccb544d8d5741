//! Languages and locale formatting for the web pages: the ko/en catalogues
//! (embedded JSON, one flat map of key -> text per language, also served to
//! the page's scripts as a cacheable script, [`Lang::catalogue_script`]), choosing the
//! viewer's language (the `lang` cookie, else Accept-Language), and money,
//! numbers and times written the way each language writes them.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The English catalogue, embedded in the binary.
pub const EN_JSON: &str = include_str!("../../assets/i18n/en.json");
/// The Korean catalogue, embedded in the binary.
pub const KO_JSON: &str = include_str!("../../assets/i18n/ko.json");

/// Name of the cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "lang";

type Catalogue = BTreeMap<String, String>;

fn parse(raw: &str, name: &str) -> Catalogue {
    match serde_json::from_str::<Catalogue>(raw) {
        Ok(map) => map,
        Err(e) => {
            // A unit test parses both files; this only guards a broken build.
            tracing::error!(catalogue = name, error = %e, "the i18n catalogue does not parse");
            Catalogue::new()
        }
    }
}

static EN: LazyLock<Catalogue> = LazyLock::new(|| parse(EN_JSON, "en"));
static KO: LazyLock<Catalogue> = LazyLock::new(|| parse(KO_JSON, "ko"));

/// The global through which the catalogue script hands its texts to `app.js`.
pub const SCRIPT_GLOBAL: &str = "stampedeCatalogue";

/// A language the pages are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Ko,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ko, Lang::En];

    /// The BCP 47 code (`<html lang>`, the cookie value).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The locale JavaScript's `Intl` formats with.
    pub fn locale(self) -> &'static str {
        match self {
            Lang::En => "en-US",
            Lang::Ko => "ko-KR",
        }
    }

    pub fn from_code(raw: &str) -> Option<Lang> {
        let primary = raw.trim().split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("ko") {
            Some(Lang::Ko)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The cookie wins; else the best of ko/en in Accept-Language by its
    /// q-values (ties by order); else English.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_code) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_code) else { continue };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    fn catalogue(self) -> &'static Catalogue {
        match self {
            Lang::En => &EN,
            Lang::Ko => &KO,
        }
    }

    /// The text for `key`; a missing key shows as itself (a unit test makes
    /// sure none is missing).
    pub fn t(self, key: &str) -> &str {
        self.catalogue().get(key).map_or(key, String::as_str)
    }

    /// The text for `key` with `{n}` replaced.
    pub fn tn(self, key: &str, n: impl std::fmt::Display) -> String {
        self.t(key).replace("{n}", &n.to_string())
    }

    /// The text for `key` counting `count`, `{n}` being the count with
    /// thousands separators: `key.one` when the count is 1 and the catalogue
    /// has that form (English: "1 seat left"), else `key`. JavaScript's `tn`
    /// picks the same forms through `Intl.PluralRules`.
    pub fn count(self, key: &str, count: u64) -> String {
        let one = format!("{key}.one");
        let key = if count == 1 && self.catalogue().contains_key(&one) { one.as_str() } else { key };
        self.t(key).replace("{n}", &self.number(count))
    }

    /// The whole catalogue as a classic script for the page's modules, served
    /// as a cacheable asset (`assets.rs`, `i18n/{code}.js`). Pages load it
    /// with `defer` before their modules, and deferred scripts run in document
    /// order, so `app.js` finds the texts already there and `t()` stays
    /// synchronous: no fetch to await before a page's scripts can speak.
    pub fn catalogue_script(self) -> String {
        let json = serde_json::to_string(self.catalogue()).unwrap_or_else(|_| "{}".to_owned());
        format!(
            "// i18n/{code}.js: the {code} catalogue (key -> text) for the page's modules, made from \
             assets/i18n/{code}.json; app.js reads it.\nglobalThis.{SCRIPT_GLOBAL} = Object.freeze({json});\n",
            code = self.code()
        )
    }

    /// `12345` -> `12,345` (both languages group by thousands with commas).
    pub fn number(self, n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    /// An amount in the currency's minor unit: `55000 KRW` -> `₩55,000`
    /// (no decimals), `1250 USD` -> `$12.50`; unknown codes as `CHF 12.50`.
    pub fn money(self, amount: u64, currency: &str) -> String {
        let (symbol, decimals) = match currency {
            "KRW" => ("₩", 0),
            "JPY" => ("¥", 0),
            "USD" => ("$", 2),
            "EUR" => ("€", 2),
            _ => ("", 2),
        };
        let body = if decimals == 0 {
            self.number(amount)
        } else {
            format!("{}.{:02}", self.number(amount / 100), amount % 100)
        };
        if symbol.is_empty() { format!("{currency} {body}") } else { format!("{symbol}{body}") }
    }

    /// A span of seconds for people: `5 min`, `45 s`, `1 h 30 min` / `5분`, `45초`, `1시간 30분`.
    pub fn duration(self, seconds: i64) -> String {
        let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
        let units = match self {
            Lang::En => [" h", " min", " s"],
            Lang::Ko => ["시간", "분", "초"],
        };
        let parts: Vec<String> =
            [h, m, s].iter().zip(units).filter(|(v, _)| **v > 0).map(|(v, unit)| format!("{v}{unit}")).collect();
        if parts.is_empty() { format!("0{}", units[2]) } else { parts.join(" ") }
    }

    /// A time for people before the page's script rewrites it in the
    /// viewer's own zone: Korean in KST, English in UTC.
    pub fn datetime(self, us: i64) -> String {
        let Ok(ts) = jiff::Timestamp::from_microsecond(us) else { return String::new() };
        match self {
            Lang::Ko => {
                let dt = ts.to_zoned(jiff::tz::offset(9).to_time_zone());
                format!("{}년 {}월 {}일 {:02}:{:02} KST", dt.year(), dt.month(), dt.day(), dt.hour(), dt.minute())
            }
            Lang::En => {
                let dt = ts.to_zoned(jiff::tz::TimeZone::UTC);
                const MONTHS: [&str; 12] =
                    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
                let month = MONTHS.get(usize::try_from(dt.month() - 1).unwrap_or(0)).copied().unwrap_or("");
                format!("{month} {}, {} {:02}:{:02} UTC", dt.day(), dt.year(), dt.hour(), dt.minute())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(raw: &str) -> Vec<String> {
        let map: Catalogue = serde_json::from_str(raw).expect("catalogue parses");
        map.keys().cloned().collect()
    }

    #[test]
    fn both_catalogues_have_the_same_keys_and_no_empty_text() {
        let en = keys(EN_JSON);
        let ko = keys(KO_JSON);
        let only_en: Vec<_> = en.iter().filter(|k| !ko.contains(k)).collect();
        let only_ko: Vec<_> = ko.iter().filter(|k| !en.contains(k)).collect();
        assert!(only_en.is_empty(), "keys missing in ko.json: {only_en:?}");
        assert!(only_ko.is_empty(), "keys missing in en.json: {only_ko:?}");
        for lang in Lang::ALL {
            for (k, v) in lang.catalogue() {
                assert!(!v.trim().is_empty(), "{}: {k} is empty", lang.code());
                assert_eq!(
                    v.contains("{n}"),
                    Lang::En.t(k).contains("{n}"),
                    "{}: {k} and its English text disagree on {{n}}",
                    lang.code()
                );
            }
        }
        assert!(en.len() > 50, "catalogue suspiciously small: {}", en.len());
    }

    /// Every key the templates and scripts name literally (`c.t("...")`,
    /// `c.tn("...", ..)`, `t('...')` in JS) is in the catalogue.
    #[test]
    fn every_key_used_by_templates_and_scripts_exists() {
        let sources: &[(&str, &str)] = &[
            ("base.html", include_str!("../../templates/base.html")),
            ("home.html", include_str!("../../templates/home.html")),
            ("login.html", include_str!("../../templates/login.html")),
            ("signup.html", include_str!("../../templates/signup.html")),
            ("logout.html", include_str!("../../templates/logout.html")),
            ("sale.html", include_str!("../../templates/sale.html")),
            ("me.html", include_str!("../../templates/me.html")),
            ("message.html", include_str!("../../templates/message.html")),
            ("organizer.html", include_str!("../../templates/organizer.html")),
            ("organizer_new.html", include_str!("../../templates/organizer_new.html")),
            ("organizer_sale.html", include_str!("../../templates/organizer_sale.html")),
            ("gate.html", include_str!("../../templates/gate.html")),
            ("app.js", super::super::assets::APP_JS),
            ("auth.js", super::super::assets::AUTH_JS),
            ("stock.js", super::super::assets::STOCK_JS),
            ("drop.js", super::super::assets::DROP_JS),
            ("me.js", super::super::assets::ME_JS),
            ("seats.js", super::super::assets::SEATS_JS),
            ("queue.js", super::super::assets::QUEUE_JS),
            ("organizer.js", super::super::assets::ORGANIZER_JS),
            ("dashboard.js", super::super::assets::DASHBOARD_JS),
            ("gate.js", super::super::assets::GATE_JS),
        ];
        let mut used = Vec::new();
        for (file, src) in sources {
            for opener in ["t(\"", "tn(\"", "t('", "tn('"] {
                let quote = opener.chars().last().unwrap_or('"');
                let mut rest = *src;
                while let Some(at) = rest.find(opener) {
                    // `c.t(` in templates, ` t(` / `(t(` in scripts; not `get(` or `sort(`.
                    let before = rest[..at].chars().last().unwrap_or(' ');
                    rest = &rest[at + opener.len()..];
                    if before.is_alphanumeric() || before == '_' {
                        continue;
                    }
                    if let Some(end) = rest.find(quote) {
                        used.push((file.to_string(), rest[..end].to_string()));
                    }
                }
            }
        }
        assert!(used.len() > 40, "found only {} keys in use", used.len());
        let missing: Vec<_> = used.iter().filter(|(_, k)| !EN.contains_key(k.as_str()) && !k.ends_with('.')).collect();
        assert!(missing.is_empty(), "keys used but not in the catalogue: {missing:?}");
    }

    /// The catalogue script carries the whole catalogue under the global
    /// `app.js` reads, as JSON that parses back to the same map.
    #[test]
    fn the_catalogue_script_carries_every_text() {
        for lang in Lang::ALL {
            let script = lang.catalogue_script();
            assert!(script.starts_with("//"), "the script says what it is");
            let prefix = format!("globalThis.{SCRIPT_GLOBAL} = Object.freeze(");
            let start = script.find(&prefix).expect("the global is set") + prefix.len();
            let end = script.rfind(");").expect("the call is closed");
            let map: Catalogue = serde_json::from_str(&script[start..end]).expect("JSON inside");
            assert_eq!(&map, lang.catalogue());
        }
    }

    #[test]
    fn language_comes_from_the_cookie_then_accept_language() {
        assert_eq!(Lang::negotiate(Some("ko"), Some("en-US,en;q=0.9")), Lang::Ko);
        assert_eq!(Lang::negotiate(Some("xx"), Some("ko-KR,ko;q=0.9,en;q=0.8")), Lang::Ko);
        assert_eq!(Lang::negotiate(None, Some("en-GB,ko;q=0.5")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("fr-FR, ko;q=0.7, en;q=0.3")), Lang::Ko);
        assert_eq!(Lang::negotiate(None, Some("ko;q=0, en;q=0.1")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("de")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }

    #[test]
    fn money_and_numbers_by_locale() {
        assert_eq!(Lang::Ko.money(55000, "KRW"), "₩55,000");
        assert_eq!(Lang::En.money(1_234_567, "KRW"), "₩1,234,567");
        assert_eq!(Lang::En.money(0, "KRW"), "₩0");
        assert_eq!(Lang::En.money(1250, "USD"), "$12.50");
        assert_eq!(Lang::En.money(5, "CHF"), "CHF 0.05");
        assert_eq!(Lang::En.number(999), "999");
        assert_eq!(Lang::En.number(1000), "1,000");
        assert_eq!(Lang::En.duration(300), "5 min");
        assert_eq!(Lang::Ko.duration(5400), "1시간 30분");
        assert_eq!(Lang::Ko.duration(45), "45초");
        assert_eq!(Lang::En.duration(0), "0 s");
    }

    #[test]
    fn times_by_locale() {
        // 2026-11-22T20:00:00Z is 2026-11-23 05:00 in Seoul.
        let us = "2026-11-22T20:00:00Z".parse::<jiff::Timestamp>().expect("time").as_microsecond();
        assert_eq!(Lang::Ko.datetime(us), "2026년 11월 23일 05:00 KST");
        assert_eq!(Lang::En.datetime(us), "Nov 22, 2026 20:00 UTC");
    }
}
