export { generateDataModelDocs, type DataModelDocs } from './datamodel-docs.generator';
export { renderDataModel } from './datamodel.renderer';
export { renderDataModelHtml, type HtmlOptions } from './datamodel-html.renderer';
export { renderDataModelJson } from './datamodel-json.renderer';
export { renderDataModelMarkdown } from './datamodel-markdown.renderer';
export { renderErDot } from './er-dot.renderer';
export { renderErMermaid } from './er-mermaid.renderer';
