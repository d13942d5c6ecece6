//! `/admin`: every campaign at a glance.

use crate::api::{CampaignView, LiveNumbers, list_campaigns};
use crate::components::admin_gate::AdminGate;
use crate::i18n::format_count;
use crate::pages::status_label;
use crate::use_lang;
use leptos::prelude::*;

/// The campaign list.
#[component]
pub fn CampaignListPage() -> impl IntoView {
    // Created here, outside the gate (see `AdminGate`).
    let campaigns: Campaigns = Resource::new(|| (), |_| list_campaigns());
    view! { <AdminGate><CampaignTable campaigns/></AdminGate> }
}

/// Every campaign with its numbers.
type Campaigns = Resource<Result<Vec<(CampaignView, LiveNumbers)>, ServerFnError>>;

#[component]
fn CampaignTable(campaigns: Campaigns) -> impl IntoView {
    let t = use_lang().texts();
    let number = |n: Option<i64>| n.map(format_count).unwrap_or_else(|| "–".into());
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>{t.campaigns}</h1>
                <a class="button primary" href="/admin/campaigns/new">{t.new_campaign}</a>
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let rows = campaigns.await.unwrap_or_default();
                    if rows.is_empty() {
                        return view! { <p class="empty">{t.no_campaigns}</p> }.into_any();
                    }
                    view! {
                        <div class="table-scroll">
                        <table class="campaigns">
                            <thead><tr>
                                <th>{t.name}</th><th>{t.status}</th><th class="num">{t.quantity}</th>
                                <th class="num">{t.remaining}</th><th class="num">{t.claimed}</th>
                                <th class="num">{t.synced}</th><th>{t.sync_state}</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|(c, n)| {
                                    let failing = n.last_sync_error.is_some();
                                    view! {
                                        <tr>
                                            <td><a href=format!("/admin/campaigns/{}", c.id)>{c.name.clone()}</a></td>
                                            <td><span class=format!("badge {}", c.status)>{status_label(t, &c.status)}</span></td>
                                            <td class="num">{format_count(c.quantity)}</td>
                                            <td class="num">{number(n.remaining)}</td>
                                            <td class="num">{format_count(n.claimed)}</td>
                                            <td class="num">{format_count(n.synced)}</td>
                                            <td>
                                                <span class:bad=failing class:good=!failing>
                                                    {if failing { t.sync_failing } else { t.sync_ok }}
                                                </span>
                                                {(n.queued > 0).then(|| format!(" · {} {}", t.waiting, format_count(n.queued)))}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}
