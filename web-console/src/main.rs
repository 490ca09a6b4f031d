//! Lantern's web console: the leptos UI and the console applet, compiled to Wasm.
//!
//! The UI mounts only on our own page (`#lantern-app`); a vendor page that loads the module for
//! the `LanternConsole` entry point gets the applet alone.

mod api;
mod app;
mod applet;
mod pages;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn main() {
    console_error_panic_hook::set_once();
    let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("lantern-app"))
    else {
        return;
    };
    use wasm_bindgen::JsCast;
    let Ok(root) = root.dyn_into::<web_sys::HtmlElement>() else { return };
    leptos::mount::mount_to(root, app::App).forget();
}
