-- An "Open in Colab" badge under the title of every notebook page, linking to that notebook on GitHub,
-- so a reader can run the page they are reading. The badge image ships with the site (no request leaves it).
local repo_url = 'https://github.com/llmlit/llmlit'   -- overridden by website.repo-url (nbdev.yml, from pyproject.toml)
local branch, nbs_dir = 'main', 'nbs'

local function colab_url(rel)
  local repo = repo_url:gsub('^https://github.com/', ''):gsub('/$', '')
  return 'https://colab.research.google.com/github/' .. repo .. '/blob/' .. branch .. '/' .. nbs_dir .. '/' .. rel
end

function Pandoc(doc)
  local input = quarto.doc.input_file
  if not input or not input:match('%.ipynb$') then return doc end
  local web = doc.meta.website
  if web and web['repo-url'] then repo_url = pandoc.utils.stringify(web['repo-url']) end
  if web and web['repo-branch'] then branch = pandoc.utils.stringify(web['repo-branch']) end
  local rel = pandoc.path.make_relative(input, quarto.project.directory)
  local _, depth = rel:gsub('/', '')
  local img = pandoc.Image({pandoc.Str('Open In Colab')}, string.rep('../', depth) .. 'images/colab-badge.svg')
  local link = pandoc.Link({img}, colab_url(rel), '', pandoc.Attr('', {'colab-badge'}))
  table.insert(doc.blocks, 1, pandoc.Para({link}))
  return doc
end
