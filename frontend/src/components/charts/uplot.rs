//! The parts of uPlot (1.6.32, from npm: `frontend/package.json`) the charts
//! use, bound through wasm-bindgen. `index.html` loads uPlot's minified build,
//! which defines the global `uPlot` before the app starts; the browser tests
//! load the same file.
//!
//! Options are plain JSON built in Rust, with the few functions uPlot calls
//! back (axis labels, scale ranges, hooks) set on them as closures that the
//! chart keeps alive as long as it lives.

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// One uPlot chart.
    #[wasm_bindgen(js_name = uPlot)]
    #[derive(Debug, Clone)]
    pub type UPlot;

    /// Draws a chart with `opts` and `data` into `target`.
    #[wasm_bindgen(constructor, js_class = "uPlot", catch)]
    pub fn new(opts: &Object, data: &Array, target: &web_sys::HtmlElement) -> Result<UPlot, JsValue>;

    /// Replaces the data and redraws (scales re-ranged).
    #[wasm_bindgen(method, js_name = setData)]
    pub fn set_data(this: &UPlot, data: &Array);

    /// Runs `ops` and redraws at once, not in the next microtask (as uPlot
    /// otherwise does): what a benchmark of the drawing needs.
    #[wasm_bindgen(method)]
    pub fn batch(this: &UPlot, ops: &Function);

    /// Sets the plotting area's size.
    #[wasm_bindgen(method, js_name = setSize)]
    pub fn set_size(this: &UPlot, size: &Object);

    /// Sets (or clears) the drag selection; `fire` runs the `setSelect` hooks.
    #[wasm_bindgen(method, js_name = setSelect)]
    pub fn set_select(this: &UPlot, select: &Object, fire: bool);

    /// Removes the chart's DOM and listeners.
    #[wasm_bindgen(method)]
    pub fn destroy(this: &UPlot);

    /// A CSS-pixel position in the plotting area as a value of `scale`.
    #[wasm_bindgen(method, js_name = posToVal)]
    pub fn pos_to_val(this: &UPlot, pos: f64, scale: &str) -> f64;

    /// A value of `scale` as a position; canvas pixels when `canvas`.
    #[wasm_bindgen(method, js_name = valToPos)]
    pub fn val_to_pos(this: &UPlot, value: f64, scale: &str, canvas: bool) -> f64;

    /// The cursor: `left`, `top` (CSS px in the plotting area; negative outside).
    #[wasm_bindgen(method, getter)]
    pub fn cursor(this: &UPlot) -> Object;

    /// The drag selection: `left`, `width` (CSS px).
    #[wasm_bindgen(method, getter)]
    pub fn select(this: &UPlot) -> Object;

    /// The plotting area in canvas pixels: `left`, `top`, `width`, `height`.
    #[wasm_bindgen(method, getter)]
    pub fn bbox(this: &UPlot) -> Object;

    /// The canvas's drawing context.
    #[wasm_bindgen(method, getter)]
    pub fn ctx(this: &UPlot) -> web_sys::CanvasRenderingContext2d;

    /// The element over the plotting area that takes the mouse.
    #[wasm_bindgen(method, getter)]
    pub fn over(this: &UPlot) -> web_sys::HtmlElement;
}

/// A number field of a uPlot object (`cursor.left`), `NaN` when absent.
pub fn number(object: &JsValue, field: &str) -> f64 {
    Reflect::get(object, &JsValue::from_str(field)).ok().and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
}

/// Sets `object.path = value`, creating the objects on the way.
pub fn set(object: &Object, path: &[&str], value: &JsValue) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut target: JsValue = object.clone().into();
    for key in parents {
        let key = JsValue::from_str(key);
        let next = Reflect::get(&target, &key).ok().filter(|v| v.is_object()).unwrap_or_else(|| {
            let fresh: JsValue = Object::new().into();
            let _ = Reflect::set(&target, &key, &fresh);
            fresh
        });
        target = next;
    }
    let _ = Reflect::set(&target, &JsValue::from_str(last), value);
}

/// A plain JS object from JSON text (`{"legend":{"show":false}}`).
pub fn object(json: &serde_json::Value) -> Object {
    js_sys::JSON::parse(&json.to_string()).ok().and_then(|v| v.dyn_into::<Object>().ok()).unwrap_or_default()
}

/// `{left, top, width, height}` in CSS px.
pub fn rect(left: f64, top: f64, width: f64, height: f64) -> Object {
    object(&serde_json::json!({ "left": left, "top": top, "width": width, "height": height }))
}

/// uPlot's aligned data: the x values, then one array per series, `null` where
/// there is no value.
pub fn aligned(xs: &[f64], series: &[&[Option<f64>]]) -> Array {
    let data = Array::new_with_length(series.len() as u32 + 1);
    data.set(0, js_sys::Float64Array::from(xs).into());
    for (i, values) in series.iter().enumerate() {
        let column = Array::new_with_length(values.len() as u32);
        for (j, v) in values.iter().enumerate() {
            column.set(j as u32, v.map_or(JsValue::NULL, JsValue::from_f64));
        }
        data.set(i as u32 + 1, column.into());
    }
    data
}

/// A JS array of one function, as uPlot's hook lists are.
pub fn hook_list(f: &Function) -> Array {
    Array::of1(f)
}
