export { CHROMIUM, CHROMIUM_FLAGS, launchChromium } from './chromium.js';
export { checkDocument, deref, matchPath, resolveRef, responseChecker, type Document, type PathMatch, type ResponseChecker } from './openapi.js';
