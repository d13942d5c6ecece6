//! A labelled form field with its error message right under it.

use leptos::prelude::*;

/// A text-like input bound to `value`, showing `error` (if any) under it. The input's `name`
/// is the field name the server reports problems with.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    view! {
        <div class="field" class:invalid=move || error.get().is_some()>
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                bind:value=value
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-describedby=error_id.clone()
            />
            {hint.map(|hint| view! { <p class="hint">{hint}</p> })}
            <p class="error" id=error_id role="alert">{move || error.get()}</p>
        </div>
    }
}
