//! Entry point of the wasm bundle built by Trunk.

fn main() {
    yew::Renderer::<frontend::App>::new().render();
}
