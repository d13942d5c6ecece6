//! `/admin/audit`: the audit log, newest first, 50 a page, filtered through the address
//! (`?campaign_id=7&actor=api&action=campaign.paused`), so a filtered view can be bookmarked;
//! its CSV export takes the same filters. A plain table: nothing here needs more of the wasm.

use crate::api::{AuditLine, AuditLines, list_audit_events};
use crate::components::admin_gate::AdminGate;
use crate::i18n::{Lang, Texts, format_instant};
use crate::pages::{form_urlencoded_pairs, with_query};
use crate::use_lang;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// What the address asks the log for: each filter as typed (empty for any), and the page (a
/// `next_page` of the page before, empty for the newest).
#[derive(Debug, Clone, PartialEq, Default)]
struct Asked {
    campaign_id: String,
    actor: String,
    action: String,
    page: String,
}

impl Asked {
    fn filters(&self) -> Vec<String> {
        form_urlencoded_pairs(&[
            ("campaign_id", &self.campaign_id),
            ("actor", &self.actor),
            ("action", &self.action),
        ])
    }

    /// The address of the entries below `page` (`None`: the newest), with the same filters.
    fn href(&self, page: Option<i64>) -> String {
        let mut query = self.filters();
        if let Some(page) = page {
            query.push(format!("page={page}"));
        }
        with_query("/admin/audit", &query)
    }

    /// The CSV export of every entry the filters select.
    fn csv_href(&self) -> String {
        with_query("/admin/audit.csv", &self.filters())
    }
}

/// The audit log page.
#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| {
        let query = query.get();
        Asked {
            campaign_id: query.get("campaign_id").unwrap_or_default(),
            actor: query.get("actor").unwrap_or_default(),
            action: query.get("action").unwrap_or_default(),
            page: query.get("page").unwrap_or_default(),
        }
    });
    // Created here, outside the gate (see `AdminGate`).
    let lines: Lines = Resource::new(
        move || asked.get(),
        |asked| list_audit_events(asked.campaign_id, asked.actor, asked.action, asked.page),
    );
    view! { <AdminGate><AuditTable lines asked/></AdminGate> }
}

type Lines = Resource<Result<AuditLines, ServerFnError>>;

#[component]
fn AuditTable(lines: Lines, asked: Memo<Asked>) -> impl IntoView {
    let lang = use_lang();
    let t = lang.texts();
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>{t.audit_log}</h1>
                <div class="head-links">
                    <a class="button" href="/admin">{t.campaigns}</a>
                    <a class="button" href=move || asked.get().csv_href() rel="external" download>
                        {t.export_csv}
                    </a>
                </div>
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let found = lines.await.unwrap_or_default();
                    let asked = asked.get_untracked();
                    let filters = filter_form(t, &asked, &found.actions);
                    if !found.problems.is_empty() {
                        return view! {
                            {filters}
                            {found.problems.into_iter().map(|problem| view! {
                                <p class="error" role="alert">
                                    {format!("{}: {}", problem.field, problem.reason)}
                                </p>
                            }).collect_view()}
                        }.into_any();
                    }
                    let pager = view! {
                        <nav class="pager">
                            {(!asked.page.is_empty()).then(|| view! {
                                <a href=asked.href(None)>{t.audit_newest}</a>
                            })}
                            {found.next_page.map(|next| view! {
                                <a href=asked.href(Some(next)) rel="next">{t.audit_older}</a>
                            })}
                        </nav>
                    };
                    if found.lines.is_empty() {
                        return view! { {filters} <p class="empty">{t.audit_nothing}</p> {pager} }
                            .into_any();
                    }
                    view! {
                        {filters}
                        <div class="table-scroll">
                        <table class="campaigns audit">
                            <thead><tr>
                                <th>{t.audit_when}</th><th>{t.audit_actor}</th>
                                <th>{t.audit_address}</th><th>{t.audit_action}</th>
                                <th>{t.audit_campaign}</th><th>{t.audit_before}</th>
                                <th>{t.audit_after}</th>
                            </tr></thead>
                            <tbody>
                                {found.lines.into_iter().map(|line| audit_row(lang, line)).collect_view()}
                            </tbody>
                        </table>
                        </div>
                        {pager}
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

/// The filters, as a plain GET form: it works before the wasm has loaded. (An `AnyView`, which
/// borrows nothing of its arguments, so the page can return it.)
fn filter_form(t: &'static Texts, asked: &Asked, actions: &[String]) -> AnyView {
    let options = actions
        .iter()
        .map(|name| {
            let selected = asked.action == *name;
            view! { <option value=name.clone() selected=selected>{action_label(t, name)}</option> }
        })
        .collect_view();
    view! {
        <form class="filters" method="get" action="/admin/audit">
            <input type="text" name="campaign_id" aria-label=t.audit_campaign
                placeholder=t.audit_campaign_hint value=asked.campaign_id.clone()/>
            <input type="search" name="actor" aria-label=t.audit_actor
                placeholder=t.audit_actor_hint value=asked.actor.clone()/>
            <select name="action" aria-label=t.audit_action>
                <option value="" selected=asked.action.is_empty()>{t.audit_all_actions}</option>
                {options}
            </select>
            <button type="submit">{t.filter}</button>
        </form>
    }
    .into_any()
}

fn audit_row(lang: Lang, line: AuditLine) -> impl IntoView {
    let t = lang.texts();
    let at = chrono::DateTime::from_timestamp_millis(line.at_ms)
        .map(|at| format_instant(lang, at))
        .unwrap_or_default();
    let campaign = line.campaign_id.map(|id| {
        view! { <a href=format!("/admin/campaigns/{id}")>{format!("#{id}")}</a> }
    });
    view! {
        <tr data-testid="audit-entry">
            <td>{at}</td>
            <td>{line.actor}</td>
            <td>{line.address.unwrap_or_default()}</td>
            <td title=line.action.clone()>{action_label(t, &line.action)}</td>
            <td>{campaign}</td>
            <td class="values">{line.before}</td>
            <td class="values">{line.after}</td>
        </tr>
    }
}

/// A kind of action in words; a name this page does not know (a newer release's) as it is.
fn action_label(t: &Texts, name: &str) -> String {
    let label = match name {
        "campaign.created" => t.audit_campaign_created,
        "campaign.paused" => t.audit_campaign_paused,
        "campaign.resumed" => t.audit_campaign_resumed,
        "campaign.ended" => t.audit_campaign_ended,
        "campaign.quantity_changed" => t.audit_quantity_changed,
        "admin.signed_in" => t.audit_signed_in,
        "admin.sign_in_failed" => t.audit_sign_in_failed,
        "export.downloaded" => t.audit_export_downloaded,
        _ => name,
    };
    label.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_and_export_addresses_keep_the_filters() {
        let asked = Asked {
            campaign_id: "7".into(),
            actor: "a@b.kr".into(),
            action: "campaign.paused".into(),
            page: "120".into(),
        };
        assert_eq!(
            asked.href(Some(99)),
            "/admin/audit?campaign_id=7&actor=a%40b.kr&action=campaign.paused&page=99"
        );
        assert_eq!(
            asked.csv_href(),
            "/admin/audit.csv?campaign_id=7&actor=a%40b.kr&action=campaign.paused"
        );
        assert_eq!(Asked::default().href(None), "/admin/audit");
    }
}
