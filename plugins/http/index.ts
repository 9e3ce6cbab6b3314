export { HttpListener, type HttpListenerOptions, type RouteHandler, type WebSocketEndpointOptions } from './server.js';
