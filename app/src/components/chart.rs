//! A small bar chart of claims per second, drawn as inline SVG (no chart library in the wasm).

use leptos::prelude::*;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;
const SECONDS: usize = 300;

/// One bar per second for the last five minutes, newest on the right, scaled to the peak.
#[component]
pub fn ClaimsChart(
    #[prop(into)] per_second: Signal<Vec<u32>>,
    label: &'static str,
) -> impl IntoView {
    let bars = move || {
        let samples = per_second.get();
        let peak = samples.iter().copied().max().unwrap_or(0).max(1) as f64;
        let slot = WIDTH / SECONDS as f64;
        let offset = SECONDS.saturating_sub(samples.len());
        samples
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(i, n)| {
                let h = (n as f64 / peak) * (HEIGHT - 4.0);
                view! {
                    <rect
                        x=format!("{:.1}", (offset + i) as f64 * slot)
                        y=format!("{:.1}", HEIGHT - h)
                        width=format!("{:.1}", slot.max(1.0))
                        height=format!("{h:.1}")
                    />
                }
            })
            .collect_view()
    };
    let peak = move || per_second.get().iter().copied().max().unwrap_or(0);
    view! {
        <figure class="chart">
            <figcaption>{label} <span class="peak">"max " {peak} "/s"</span></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=label>
                <line x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT class="axis"/>
                {bars}
            </svg>
        </figure>
    }
}
