// The original client, kept as a fixture: it must go on working against the
// new server. Coordinates are page coordinates; the canvas sits at the page's
// top-left corner, so they are also canvas coordinates.
(function () {
  var socket = io.connect("/");
  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var pointers = document.getElementById("pointers");

  var drawing = false;
  var lastEmit = 0;
  var prev = { x: 0, y: 0 };
  var clients = {};  // id -> last point received from that user
  var cursors = {};  // id -> pointer element

  function drawLine(fromX, fromY, toX, toY) {
    ctx.beginPath();
    ctx.moveTo(fromX, fromY);
    ctx.lineTo(toX, toY);
    ctx.stroke();
  }

  canvas.addEventListener("mousedown", function (e) {
    e.preventDefault();
    drawing = true;
    prev.x = e.pageX;
    prev.y = e.pageY;
  });

  document.addEventListener("mouseup", function () {
    drawing = false;
  });

  canvas.addEventListener("mouseleave", function () {
    drawing = false;
  });

  document.addEventListener("mousemove", function (e) {
    var now = Date.now();
    if (now - lastEmit > 50) {
      socket.emit("mousemove", { x: e.pageX, y: e.pageY, drawing: drawing });
      lastEmit = now;
    }
    // Our own line is drawn here: the server does not echo it back.
    if (drawing) {
      drawLine(prev.x, prev.y, e.pageX, e.pageY);
      prev.x = e.pageX;
      prev.y = e.pageY;
    }
  });

  socket.on("moving", function (data) {
    var cursor = cursors[data.id];
    if (!cursor) {
      cursor = document.createElement("div");
      cursor.className = "pointer";
      pointers.appendChild(cursor);
      cursors[data.id] = cursor;
    }
    cursor.style.left = data.x + "px";
    cursor.style.top = data.y + "px";

    var last = clients[data.id];
    if (last && last.drawing && data.drawing) {
      drawLine(last.x, last.y, data.x, data.y);
    }
    clients[data.id] = data;
  });

  socket.on("clientdisconnect", function (id) {
    if (cursors[id]) {
      pointers.removeChild(cursors[id]);
      delete cursors[id];
    }
    delete clients[id];
  });
})();
