// Draws the dashboard's charts from the JSON the page embeds (no inline script: the CSP
// allows scripts from the console's own static files only).
(() => {
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const colours = ["#2454c7", "#067647", "#b42318", "#b54708", "#6941c6", "#0e9384", "#667085"];
  const colour = (i) => colours[i % colours.length];
  const days = data.days.map((d) => d.slice(5));
  const common = { animation: false, responsive: true, maintainAspectRatio: false };
  window.kassaCharts = [];
  const draw = (id, config) => {
    const canvas = document.getElementById(id);
    window.kassaCharts.push(new Chart(canvas, config));
  };
  draw("chart-orders", {
    type: "bar",
    data: { labels: days, datasets: data.orders.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: colour(i) })) },
    options: { ...common, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
  draw("chart-money", {
    type: "line",
    data: { labels: days, datasets: data.money.map((s, i) => ({ label: s.label, data: s.data.map(Number), borderColor: colour(i), backgroundColor: colour(i) })) },
    options: { ...common, scales: { y: { beginAtZero: true } } },
  });
  draw("chart-deliveries", {
    type: "line",
    data: { labels: days, datasets: [{ label: "succeeded %", data: data.deliveries, borderColor: colour(1), backgroundColor: colour(1), spanGaps: true }] },
    options: { ...common, scales: { y: { min: 0, max: 100 } } },
  });
  draw("chart-latency", {
    type: "bar",
    data: {
      labels: data.latency.map((r) => r.route),
      datasets: [
        { label: "p50", data: data.latency.map((r) => r.p50), backgroundColor: colour(0) },
        { label: "p99", data: data.latency.map((r) => r.p99), backgroundColor: colour(3) },
      ],
    },
    options: { ...common, indexAxis: "y", scales: { x: { beginAtZero: true } } },
  });
})();
