export { checkDocument, deref, matchPath, resolveRef, responseChecker, type Document, type PathMatch, type ResponseChecker } from './openapi.js';
