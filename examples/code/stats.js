// Mean, variance and standard deviation of a sample (Bessel's correction for the variance).
function mean(xs) {
  return xs.reduce((sum, x) => sum + x, 0) / xs.length;
}

function variance(xs) {
  const m = mean(xs);
  return xs.reduce((sum, x) => sum + (x - m) ** 2, 0) / (xs.length - 1);
}

function standardDeviation(xs) {
  return Math.sqrt(variance(xs));
}

module.exports = { mean, variance, standardDeviation };
