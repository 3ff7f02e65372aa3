export { default } from '@modeldock/eslint-config';
