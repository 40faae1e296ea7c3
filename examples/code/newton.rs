//! Square roots by Newton's method: x_{n+1} = (x_n + a / x_n) / 2.

pub fn sqrt_newton(a: f64, tolerance: f64) -> f64 {
    if a == 0.0 {
        return 0.0;
    }
    let mut x = a;
    loop {
        let next = 0.5 * (x + a / x);
        if (next - x).abs() < tolerance {
            return next;
        }
        x = next;
    }
}

fn main() {
    println!("sqrt(2) = {:.6}", sqrt_newton(2.0, 1e-12));
}
