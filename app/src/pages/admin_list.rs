//! `/admin`: the campaigns at a glance, 50 a page, filtered by status and name through the
//! address (`?status=active&name=spring&page=1`), so a filtered page can be bookmarked.

use crate::api::{CampaignPage, list_campaigns};
use crate::components::admin_gate::AdminGate;
use crate::i18n::format_count;
use crate::pages::{form_urlencoded_pairs, status_label, with_query};
use crate::use_lang;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// What the address asks the list for.
#[derive(Debug, Clone, PartialEq, Default)]
struct Asked {
    status: String,
    name: String,
    page: u32,
}

impl Asked {
    /// The address of page `page` with the same filters.
    fn href(&self, page: u32) -> String {
        let mut query = form_urlencoded_pairs(&[("status", &self.status), ("name", &self.name)]);
        if page > 0 {
            query.push(format!("page={page}"));
        }
        with_query("/admin", &query)
    }
}

/// The campaign list.
#[component]
pub fn CampaignListPage() -> impl IntoView {
    let query = use_query_map();
    let asked = Memo::new(move |_| {
        let query = query.get();
        Asked {
            status: query.get("status").unwrap_or_default(),
            name: query.get("name").unwrap_or_default(),
            page: query.get("page").and_then(|p| p.parse().ok()).unwrap_or(0),
        }
    });
    // Created here, outside the gate (see `AdminGate`).
    let campaigns: Campaigns = Resource::new(
        move || asked.get(),
        |asked| list_campaigns(asked.status, asked.name, asked.page),
    );
    view! { <AdminGate><CampaignTable campaigns asked/></AdminGate> }
}

type Campaigns = Resource<Result<CampaignPage, ServerFnError>>;

#[component]
fn CampaignTable(campaigns: Campaigns, asked: Memo<Asked>) -> impl IntoView {
    let t = use_lang().texts();
    let number = |n: Option<i64>| n.map(format_count).unwrap_or_else(|| "–".into());
    let selected = move |status: &'static str| asked.get().status == status;
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>{t.campaigns}</h1>
                <div class="head-links">
                    <a class="button" href="/admin/coupons">{t.coupon_search}</a>
                    <a class="button" href="/admin/audit">{t.audit_log}</a>
                    <a class="button primary" href="/admin/campaigns/new">{t.new_campaign}</a>
                </div>
            </div>
            <form class="filters" method="get" action="/admin">
                <select name="status" aria-label=t.status>
                    <option value="" selected=move || selected("")>{t.all_statuses}</option>
                    <option value="active" selected=move || selected("active")>{t.active}</option>
                    <option value="paused" selected=move || selected("paused")>{t.paused}</option>
                    <option value="ended" selected=move || selected("ended")>{t.ended}</option>
                </select>
                <input type="search" name="name" aria-label=t.name placeholder=t.name
                    prop:value=move || asked.get().name/>
                <button type="submit">{t.filter}</button>
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let page = campaigns.await.unwrap_or_default();
                    let asked = asked.get_untracked();
                    let pager = view! {
                        <nav class="pager">
                            {(asked.page > 0).then(|| view! {
                                <a href=asked.href(asked.page - 1) rel="prev">{t.previous_page}</a>
                            })}
                            {page.more.then(|| view! {
                                <a href=asked.href(asked.page + 1) rel="next">{t.next_page}</a>
                            })}
                        </nav>
                    };
                    if page.rows.is_empty() {
                        return view! { <p class="empty">{t.no_campaigns}</p> {pager} }.into_any();
                    }
                    view! {
                        <div class="table-scroll">
                        <table class="campaigns">
                            <thead><tr>
                                <th>{t.name}</th><th>{t.status}</th><th class="num">{t.quantity}</th>
                                <th class="num">{t.remaining}</th><th class="num">{t.claimed}</th>
                                <th class="num">{t.redeemed}</th>
                                <th class="num">{t.synced}</th><th>{t.sync_state}</th>
                            </tr></thead>
                            <tbody>
                                {page.rows.into_iter().map(|(c, n)| {
                                    let failing = n.last_sync_error.is_some();
                                    view! {
                                        <tr>
                                            <td><a href=format!("/admin/campaigns/{}", c.id)>{c.name.clone()}</a></td>
                                            <td><span class=format!("badge {}", c.status)>{status_label(t, &c.status)}</span></td>
                                            <td class="num">{format_count(c.quantity)}</td>
                                            <td class="num">{number(n.remaining)}</td>
                                            <td class="num">{format_count(n.claimed)}</td>
                                            <td class="num" data-testid="redeemed">{format_count(n.redeemed)}</td>
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
                        {pager}
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_addresses_keep_the_filters_and_encode_them() {
        let asked = Asked {
            status: "active".into(),
            name: "봄 세일&more".into(),
            page: 0,
        };
        assert_eq!(
            asked.href(2),
            "/admin?status=active&name=%EB%B4%84%20%EC%84%B8%EC%9D%BC%26more&page=2"
        );
        assert_eq!(Asked::default().href(0), "/admin");
    }
}
