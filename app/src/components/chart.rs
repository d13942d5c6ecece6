//! A small bar chart of claims per second, drawn as inline SVG (no chart library in the wasm).

use leptos::prelude::*;

// Coordinates are whole numbers in a tenfold view box: formatting floats would pull the float
// printer into the wasm bundle (docs/benchmark.md), and the SVG is stretched to its box anyway.
const WIDTH: u64 = 6000;
const HEIGHT: u64 = 1200;
const SECONDS: usize = 300;
/// Room left above the tallest bar.
const HEADROOM: u64 = 40;

/// One bar per second for the last five minutes, newest on the right, scaled to the peak.
#[component]
pub fn ClaimsChart(
    #[prop(into)] per_second: Signal<Vec<u32>>,
    label: &'static str,
) -> impl IntoView {
    let bars = move || {
        let samples = per_second.get();
        let peak = u64::from(samples.iter().copied().max().unwrap_or(0).max(1));
        let slot = WIDTH / SECONDS as u64;
        let offset = SECONDS.saturating_sub(samples.len());
        samples
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(i, n)| {
                let h = u64::from(n) * (HEIGHT - HEADROOM) / peak;
                view! {
                    <rect x=(offset + i) as u64 * slot y=HEIGHT - h width=slot height=h />
                }
            })
            .collect_view()
    };
    let peak = move || per_second.get().iter().copied().max().unwrap_or(0);
    view! {
        <figure class="chart">
            <figcaption>{label} <span class="peak">"max " {peak} "/s"</span></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=label>
                <line x1="0" y1=HEIGHT x2=WIDTH y2=HEIGHT class="axis" vector-effect="non-scaling-stroke"/>
                {bars}
            </svg>
        </figure>
    }
}
