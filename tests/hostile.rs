//! The hostile-guest corpus (issue #5 §3): each guest in `guests/rust/` that misbehaves
//! on purpose, run through `wasgi run` and `wasgi serve`, with the documented outcome.

mod util;
